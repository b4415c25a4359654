"""What BlogQueue knows about a movie or TV show, independent of where it came from (TMDb or the
sample catalog), and the content sources and filters a generation run can ask for."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

import msgspec

from blogqueue.errors import InvalidInput


class MediaType(StrEnum):
    MOVIE = "movie"
    TV = "tv"


class Source(StrEnum):
    POPULAR = "popular"
    TOP_RATED = "top_rated"
    TRENDING = "trending"
    NOW_PLAYING = "now_playing"  # movies only
    UPCOMING = "upcoming"  # movies only
    ON_THE_AIR = "on_the_air"  # TV only
    AIRING_TODAY = "airing_today"  # TV only
    DISCOVER = "discover"


MOVIE_ONLY = {Source.NOW_PLAYING, Source.UPCOMING}
TV_ONLY = {Source.ON_THE_AIR, Source.AIRING_TODAY}
MAX_PAGE = 500  # TMDb answers 400 (status_code 22) above this, whatever total_pages says


def check_listing(source: Source, media_type: MediaType, page: int) -> None:
    """Reject a source that does not exist for the media type, or a page no catalog serves."""
    if (source in MOVIE_ONLY and media_type is not MediaType.MOVIE) or (
        source in TV_ONLY and media_type is not MediaType.TV
    ):
        raise InvalidInput(f"{source} is not available for {media_type}", field="source")
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE}, not {page}", field="page")


class TrendingWindow(StrEnum):
    DAY = "day"
    WEEK = "week"


class TitleFilters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    min_rating: float | None = None  # 0-10, TMDb vote average
    year_from: int | None = None
    year_to: int | None = None
    include_adult: bool = False

    @property
    def any(self) -> bool:
        return self.min_rating is not None or self.year_from is not None or self.year_to is not None

    def describe(self) -> str:
        """A short label for logs and `TitlePage.via`, e.g. "minRating≥7, 1990-1999"."""
        parts = [f"minRating≥{self.min_rating:g}"] if self.min_rating is not None else []
        start, end = self.year_from, self.year_to
        if start is not None and end is not None:
            parts.append(f"{start}-{end}")
        elif start is not None or end is not None:
            parts.append(f"from {start}" if start is not None else f"to {end}")
        return ", ".join(parts + (["adult included"] if self.include_adult else []))


class TitleSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One row of a list or discover page."""

    tmdb_id: int
    media_type: MediaType
    title: str
    year: int | None = None
    rating: float | None = None
    adult: bool = False
    poster_path: str | None = None


class TitlePage(msgspec.Struct, frozen=True, kw_only=True):
    results: list[TitleSummary]
    page: int
    total_pages: int  # already clamped to what the catalog can serve (TMDb: 500)
    via: str  # which listing produced it, e.g. "/movie/popular" or "/discover/movie (filtered)"


class CastMember(msgspec.Struct, frozen=True):
    name: str
    character: str = ""


class TitleDetails(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a prompt and a post need about one title."""

    tmdb_id: int
    media_type: MediaType
    title: str
    original_title: str = ""
    year: int | None = None
    release_date: str | None = None  # YYYY-MM-DD (first air date for TV)
    genres: list[str] = msgspec.field(default_factory=list)
    overview: str = ""
    tagline: str = ""
    rating: float | None = None
    vote_count: int = 0
    runtime_minutes: int | None = None
    cast: list[CastMember] = msgspec.field(default_factory=list)  # top billed first
    directors: list[str] = msgspec.field(default_factory=list)  # TV: creators
    keywords: list[str] = msgspec.field(default_factory=list)
    poster_url: str | None = None
    sample: bool = False  # from the sample catalog shipped with BlogQueue, not from TMDb


class TitleFacts(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a post keeps of its title's record, for its facts box and structured data."""

    title: str = ""
    release_date: str | None = None
    genres: list[str] = msgspec.field(default_factory=list)
    runtime_minutes: int | None = None
    rating: float | None = None
    vote_count: int = 0
    directors: list[str] = msgspec.field(default_factory=list)  # TV: creators
    cast: list[str] = msgspec.field(default_factory=list)  # top billed first

    @classmethod
    def of(cls, details: TitleDetails) -> TitleFacts:
        return cls(
            title=details.title, release_date=details.release_date, genres=details.genres[:6],
            runtime_minutes=details.runtime_minutes, rating=details.rating, vote_count=details.vote_count,
            directors=details.directors[:3], cast=[member.name for member in details.cast[:5]],
        )  # fmt: skip

    @classmethod
    def stored(cls, value: object) -> TitleFacts:
        """The facts a row holds; none for a post written before they were kept (or a bad row)."""
        try:
            return msgspec.convert(value, cls)
        except msgspec.ValidationError:
            return cls()


class TitleCatalog(Protocol):
    """A source of titles: TMDb, or the sample catalog when no TMDb credentials are set."""

    async def list_titles(
        self,
        source: Source,
        media_type: MediaType,
        filters: TitleFilters,
        *,
        page: int,
        window: TrendingWindow = TrendingWindow.WEEK,
    ) -> TitlePage: ...

    async def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails: ...

    async def aclose(self) -> None: ...
