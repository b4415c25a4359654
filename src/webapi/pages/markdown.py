"""Model output is untrusted: markdown becomes HTML, then only harmless tags and attributes stay."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_parser = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Safe HTML for a post body: raw HTML is escaped by the parser and nh3 strips what is left."""
    return Markup(nh3.clean(_parser.render(text), link_rel="noopener noreferrer nofollow"))  # noqa: S704 - cleaned by nh3
