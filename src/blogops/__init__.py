"""Operator tools: the `blogqueue` command; imports the core, never imported by it."""
