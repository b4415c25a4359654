"""A post written from TMDb facts alone: no key, no network, the same text every time for the same facts."""

from __future__ import annotations

import re

from blogqueue.providers import Provider
from blogqueue.titles import MediaType, TitleDetails
from blogworker.envelope import Envelope, format_post
from blogworker.providers.base import (
    FailureKind,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    OnText,
    ProviderError,
    Usage,
)

PROVIDER = Provider.OFFLINE
OFFLINE_NOTE = "*Written offline from TMDb facts; no AI model was used.*"
_MAX_TAGS = 6  # the prompts ask models for 3 to 6
_TOP_CAST = 5
_GENRE_NOTES = {  # TMDb's genre names, movie and TV
    "action": "Expect momentum and set pieces more than quiet character study.",
    "adventure": "It is built around a journey, with the pull of what lies over the next hill.",
    "animation": "The animation carries as much of the storytelling as the dialogue does.",
    "comedy": "Its first job is to make you laugh, and the rest follows from the jokes.",
    "crime": "It lives in the grey zone between the law and the people who break it.",
    "documentary": "It deals in real people and real events rather than invention.",
    "drama": "It asks for your attention to its characters and rewards it.",
    "family": "It is made to be watched together, across ages.",
    "fantasy": "It builds a world with its own rules and asks you to step into it.",
    "history": "It returns to a real period and the people who lived through it.",
    "horror": "It wants to unsettle you, and how much it does is part of the fun.",
    "mystery": "It hands you clues and dares you to get there first.",
    "romance": "At its heart is a relationship and the question of where it will go.",
    "science fiction": "It takes one idea about science or the future and follows it as far as it goes.",
    "thriller": "It runs on tension and the question of what happens next.",
    "war": "It puts people under the pressure of conflict and watches what that does to them.",
}


class OfflineGenerator:
    """Fills a fixed outline from `request.facts`, streaming it section by section."""

    provider = PROVIDER

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        if request.facts is None:
            raise ProviderError(
                FailureKind.BAD_REQUEST, "the offline writer needs the title's TMDb facts", provider=PROVIDER
            )
        text = write_offline_post(request.facts)
        for chunk in re.split(r"(?=\n## )", text):  # one chunk per section, as a model would stream
            on_text(chunk)
        return GenerationResult(text=text, usage=Usage(0, 0), finish=FinishReason.STOP, model=PROVIDER.value)

    async def aclose(self) -> None:
        return None


def write_offline_post(facts: TitleDetails) -> str:
    """The whole post, envelope first, following the same contract the AI prompts ask for."""
    name = _named(facts)
    envelope = Envelope(title=f"{name}: {_hook(facts)}", excerpt=_excerpt(facts), tags=_tags(facts))
    sections = [
        f"# {name}\n\n{OFFLINE_NOTE}\n",  # the heading the prompts ask models for
        f"## Introduction\n\n{_introduction(facts, name)}\n",
        f"## Why watch\n\n{_why_watch(facts)}\n",
        f"## Cast and crew\n\n{_cast_and_crew(facts)}\n",
        f"## Verdict\n\n{_verdict(facts)}\n",
    ]
    return format_post(envelope, "\n".join(sections))


def _named(facts: TitleDetails) -> str:
    return f"{facts.title} ({facts.year})" if facts.year else facts.title


def _kind(facts: TitleDetails) -> str:
    return "series" if facts.media_type is MediaType.TV else "film"


def _genre_phrase(facts: TitleDetails) -> str:
    genres = [genre.lower() for genre in facts.genres[:2]]
    return " and ".join(genres) + " " if genres else ""


def _hook(facts: TitleDetails) -> str:
    if facts.rating is not None and facts.rating >= 7.5 and facts.vote_count >= 100:
        return f"why this {_genre_phrase(facts)}{_kind(facts)} still earns its praise"
    return f"what to know before you press play on this {_genre_phrase(facts)}{_kind(facts)}"


def _excerpt(facts: TitleDetails) -> str:
    source = facts.overview or facts.tagline or f"A look at {_named(facts)}, from the facts TMDb keeps."
    first = re.match(r"\s*(.+?[.!?])(?:\s|$)", source, re.DOTALL)
    sentence = first[1] if first else source.strip()
    return sentence if len(sentence) <= 200 else sentence[:197].rstrip() + "..."


def _tags(facts: TitleDetails) -> list[str]:
    kind = "tv" if facts.media_type is MediaType.TV else "movie"
    candidates = [*facts.genres, *facts.keywords[:3], kind, "review", "what to watch"]
    tags: list[str] = []
    for tag in (candidate.strip().lower() for candidate in candidates):
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:_MAX_TAGS]


def _people(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _introduction(facts: TitleDetails, name: str) -> str:
    made = "created" if facts.media_type is MediaType.TV else "directed"
    described = f"{_genre_phrase(facts)}{_kind(facts)}"
    lead = f"{name} is {'an' if described[0] in 'aeiou' else 'a'} {described}"
    lead += f" {made} by {_people(facts.directors)}." if facts.directors else "."
    if facts.original_title and facts.original_title != facts.title:
        lead += f" Its original title is *{facts.original_title}*."
    if facts.tagline:
        lead += f' Its tagline sets the tone: "{facts.tagline}"'
    notes = [_GENRE_NOTES[genre.lower()] for genre in facts.genres if genre.lower() in _GENRE_NOTES][:2]
    about = (
        "This introduction sticks to what the catalog records about it: the premise, the people "
        "involved and how audiences have rated it, so you can decide whether it belongs on your list."
    )
    return lead + "\n\n" + " ".join([*notes, about])


def _why_watch(facts: TitleDetails) -> str:
    summary = facts.overview or (
        "TMDb has no plot summary for it yet, so this is one to discover without spoilers: no trailer "
        "beats to wait for and no twists half-remembered from someone else's review."
    )
    points: list[str] = []
    if facts.rating is not None and facts.vote_count:
        points.append(f"- Rated {facts.rating:.1f}/10 by {facts.vote_count:,} TMDb voters.")
    if facts.runtime_minutes:
        length = "episodes run" if facts.media_type is MediaType.TV else "it runs"
        points.append(f"- {length.capitalize()} about {facts.runtime_minutes} minutes.")
    if facts.release_date:
        released = "First aired" if facts.media_type is MediaType.TV else "Released"
        points.append(f"- {released} {facts.release_date}.")
    if facts.keywords:
        points.append(f"- Themes: {', '.join(facts.keywords[:5])}.")
    if not points:
        return summary + (
            "\n\nFew details are on record yet, which usually means a new or little-known title: "
            "a chance to see it before the crowd does and make up your own mind."
        )
    return summary + "\n\nThe facts that usually decide it:\n\n" + "\n".join(points)


def _cast_and_crew(facts: TitleDetails) -> str:
    lines = [
        f"- **{m.name}** as {m.character}" if m.character else f"- **{m.name}**"
        for m in facts.cast[:_TOP_CAST]
    ]
    role = "Created by" if facts.media_type is MediaType.TV else "Directed by"
    if facts.directors:
        lines.append(f"- {role} {_people(facts.directors)}")
    if not lines:
        return (
            "TMDb lists no cast or crew for this title yet. Credits are often added as a release draws "
            "near, so check its TMDb page again if the people behind it matter to you."
        )
    return "\n".join(lines) + "\n\nThe names above are the top-billed credits TMDb lists for this title."


def _verdict(facts: TitleDetails) -> str:
    closing = "Whatever you decide, the facts above should tell you whether it is your kind of evening."
    return f"{_judgement(facts)} {closing}"


def _judgement(facts: TitleDetails) -> str:
    rating = facts.rating if facts.vote_count else None
    if rating is None:
        return f"Too few votes to judge yet: if the premise appeals, {facts.title} is worth a try."
    if rating >= 8:
        return f"A standout. Audiences rate {facts.title} among the best of its kind; make time for it."
    if rating >= 7:
        return f"Well liked and easy to recommend: {facts.title} rewards an evening."
    if rating >= 6:
        return f"A solid pick for fans of the genre, even if {facts.title} will not win everyone over."
    return f"Divisive with viewers: watch {facts.title} for its premise, with expectations in check."
