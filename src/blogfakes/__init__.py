"""Local stand-ins for the external APIs, faithful to their wire formats, for tests and benchmarks."""
