"""The sample catalog shipped with BlogQueue (`data/sample_titles.json`), so it works without TMDb
credentials. Every title it serves is labelled as sample data, never passed off as TMDb's."""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Literal

import msgspec

from blogqueue.errors import Misconfigured, NotFound
from blogqueue.titles import (
    CastMember,
    MediaType,
    Source,
    TitleDetails,
    TitleFilters,
    TitlePage,
    TitleSummary,
    TrendingWindow,
    check_listing,
)

PAGE_SIZE = 20  # as TMDb pages


class SampleTitle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: int  # 900_000_000 and up, so never mistaken for a TMDb id
    media_type: MediaType
    title: str
    original_title: str = ""
    release_date: str  # YYYY-MM-DD
    genres: list[str]
    rating: float
    vote_count: int
    popularity: float
    runtime_minutes: int | None = None
    overview: str
    tagline: str = ""
    cast: list[CastMember]
    directors: list[str]
    keywords: list[str]
    adult: bool = False

    @property
    def year(self) -> int:
        return int(self.release_date[:4])


class _SampleFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    note: str
    sample: Literal[True]
    titles: list[SampleTitle]


def _by_popularity(title: SampleTitle) -> tuple[float, int]:
    return (-title.popularity, title.id)


def _by_rating(title: SampleTitle) -> tuple[float, int]:
    return (-title.rating, -title.vote_count)


def _by_release(title: SampleTitle) -> tuple[float, int]:
    return (-int(title.release_date.replace("-", "")), title.id)


_ORDER = {Source.TOP_RATED: _by_rating, Source.NOW_PLAYING: _by_release, Source.UPCOMING: _by_release}


@functools.cache
def load_sample_titles() -> tuple[SampleTitle, ...]:
    """The titles shipped inside the package, read once per process."""
    text = (resources.files("blogqueue") / "data" / "sample_titles.json").read_bytes()
    try:
        return tuple(msgspec.json.decode(text, type=_SampleFile).titles)
    except msgspec.DecodeError as err:
        raise Misconfigured(f"invalid sample catalog data/sample_titles.json: {err}") from err


class SampleCatalog:
    """Every source serves the same few dozen titles, ordered as that source would order them."""

    def __init__(self, titles: tuple[SampleTitle, ...] | None = None) -> None:
        self._titles = load_sample_titles() if titles is None else titles

    async def list_titles(
        self,
        source: Source,
        media_type: MediaType,
        filters: TitleFilters,
        *,
        page: int,
        window: TrendingWindow = TrendingWindow.WEEK,
    ) -> TitlePage:
        check_listing(source, media_type, page)
        matches = sorted(
            (t for t in self._titles if t.media_type is media_type and _passes(t, filters)),
            key=_ORDER.get(source, _by_popularity),
        )
        rows = matches[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        label = f" (filters: {filters.describe()})" if filters.any or filters.include_adult else ""
        return TitlePage(
            results=[_summary(t) for t in rows],
            page=page,
            total_pages=max(1, math.ceil(len(matches) / PAGE_SIZE)),
            via=f"sample catalog: {source} {media_type}{label}",
        )

    async def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails:
        found = next((t for t in self._titles if t.id == tmdb_id and t.media_type is media_type), None)
        if found is None:
            raise NotFound(f"the sample catalog has no {media_type} with id {tmdb_id}")
        return TitleDetails(
            tmdb_id=found.id,
            media_type=found.media_type,
            title=found.title,
            original_title=found.original_title or found.title,
            year=found.year,
            release_date=found.release_date,
            genres=list(found.genres),
            overview=found.overview,
            tagline=found.tagline,
            rating=found.rating,
            vote_count=found.vote_count,
            runtime_minutes=found.runtime_minutes,
            cast=list(found.cast),
            directors=list(found.directors),
            keywords=list(found.keywords),
            sample=True,
        )

    async def aclose(self) -> None:
        pass


def _passes(title: SampleTitle, filters: TitleFilters) -> bool:
    return (
        (filters.min_rating is None or title.rating >= filters.min_rating)
        and (filters.year_from is None or title.year >= filters.year_from)
        and (filters.year_to is None or title.year <= filters.year_to)
        and (filters.include_adult or not title.adult)
    )


def _summary(title: SampleTitle) -> TitleSummary:
    return TitleSummary(
        tmdb_id=title.id,
        media_type=title.media_type,
        title=title.title,
        year=title.year,
        rating=title.rating,
        adult=title.adult,
    )
