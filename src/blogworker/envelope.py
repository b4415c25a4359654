"""The shape every generated post takes: a one-line JSON envelope, a `---` line, then the markdown body.

Prompts ask models for it, the offline writer and the test fakes produce it, and the pipeline
reads it back with `parse_post`; this module is the only place that knows the format.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from blogqueue.errors import InvalidInput

ENVELOPE_SEPARATOR = "\n---\n"
_FENCE = "```"


class Envelope(msgspec.Struct):
    """Post metadata the model writes before the body."""

    title: Annotated[str, msgspec.Meta(min_length=1)]
    excerpt: str
    tags: list[str]


def format_post(envelope: Envelope, body: str) -> str:
    """The text a model is asked to answer with."""
    return msgspec.json.encode(envelope).decode() + ENVELOPE_SEPARATOR + body


def parse_post(text: str) -> tuple[Envelope, str]:
    """Split a model's answer into its envelope and markdown body (surrounding whitespace removed).

    Raises InvalidInput, with a message saying what is wrong, when the envelope is missing or invalid.
    """
    normalized = text.replace("\r\n", "\n").lstrip()
    head, separator, body = normalized.partition(ENVELOPE_SEPARATOR)
    if not separator:
        raise InvalidInput(
            "the answer does not start with a JSON envelope line "
            '({"title": ..., "excerpt": ..., "tags": [...]}) followed by a "---" line'
        )
    try:
        envelope = msgspec.json.decode(_unfence(head), type=Envelope)
    except msgspec.DecodeError as err:
        raise InvalidInput(f"the answer's JSON envelope is invalid: {err}") from err
    body = body.strip()
    if not body:
        raise InvalidInput("the answer has an envelope but no post body after the --- line")
    return envelope, body


def _unfence(head: str) -> str:
    """The JSON inside a ```json fence, which models add despite being asked not to."""
    head = head.strip()
    if not head.startswith(_FENCE):
        return head
    lines = head.split("\n")
    if len(lines) < 3 or lines[-1].strip() != _FENCE:
        raise InvalidInput("the answer's JSON envelope opens a ``` fence but does not close it")
    return "\n".join(lines[1:-1])
