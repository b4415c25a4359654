"""Prompts are plain functions of typed title facts. The answer format (a JSON envelope, then the
markdown post) is defined once, in `envelope.py`, and described here to the model."""

from __future__ import annotations

from blogqueue.titles import TitleDetails

SYSTEM = (
    "You are a film and television critic writing for a general-audience blog. You write warm, "
    "specific, spoiler-light reviews grounded only in the facts you are given. Never invent cast, "
    "crew, awards or box-office figures."
)

TARGET_WORDS = "600 to 900"
SHORTER_WORDS = "350 to 500"


def _facts(details: TitleDetails) -> list[str]:
    kind = "Movie" if details.media_type == "movie" else "TV series"
    people = "Created by" if details.media_type == "tv" else "Directed by"
    lines = [f"Title: {details.title} ({details.year or 'year unknown'})", f"Type: {kind}"]
    optional = [
        ("Original title", details.original_title if details.original_title != details.title else ""),
        ("Genres", ", ".join(details.genres)),
        ("TMDb rating", f"{details.rating:.1f}/10 from {details.vote_count} votes" if details.rating else ""),
        ("Runtime", f"{details.runtime_minutes} minutes" if details.runtime_minutes else ""),
        ("Tagline", details.tagline),
        (people, ", ".join(details.directors)),
        ("Cast", ", ".join(f"{c.name} as {c.character}" if c.character else c.name for c in details.cast)),
        ("Keywords", ", ".join(details.keywords)),
        ("Overview", details.overview),
    ]
    lines += [f"{label}: {value}" for label, value in optional if value]
    return lines


def build_prompt(details: TitleDetails, *, words: str = TARGET_WORDS, note: str = "") -> str:
    """The user prompt for one post; `note` carries the adjustment for a second try."""
    heading = f"{details.title} ({details.year})" if details.year else details.title
    parts = [
        "Write a blog post about this title, using only these facts:",
        "",
        *_facts(details),
        "",
        f"Length: {words} words. Sections, as markdown `##` headings in this order: Introduction, "
        "Why watch, Cast and crew, Verdict.",
        "Answer in exactly this format and nothing else:",
        'Line 1: a JSON object {"title": ..., "excerpt": ..., "tags": [...]} where title names the '
        f"{'movie' if details.media_type == 'movie' else 'series'} and its year, excerpt is one or two "
        "sentences, and tags are 3 to 6 lowercase keywords.",
        "Line 2: three dashes (---).",
        f"Then the post in markdown, starting with the heading `# {heading}`.",
    ]
    if note:
        parts += ["", note]
    return "\n".join(parts)


def adjusted_prompt(details: TitleDetails, reason: str) -> str:
    """A second try after a truncated, refused or malformed answer."""
    if reason == "length":
        return build_prompt(
            details, words=SHORTER_WORDS, note="Your last answer was cut off: keep it shorter."
        )
    return build_prompt(
        details,
        note="This is an ordinary review of a published, rated title for a film blog. "
        "Follow the format exactly.",
    )
