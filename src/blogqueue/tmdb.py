"""TMDb API v3 as a `TitleCatalog`: one shared httpx2 client, no retries (the queue owns them), TMDb's
errors translated to BlogQueue's, and `find_new_titles` to page past titles already written about."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Generic, TypeVar

import httpx2
import msgspec
from pydantic import SecretStr

from blogqueue.errors import BlogQueueError, InvalidInput, Misconfigured, NotFound, Unavailable
from blogqueue.http_retry import parse_retry_after
from blogqueue.sample_catalog import SampleCatalog
from blogqueue.settings import Settings
from blogqueue.titles import (
    MAX_PAGE,
    CastMember,
    MediaType,
    Source,
    TitleCatalog,
    TitleDetails,
    TitleFilters,
    TitlePage,
    TitleSummary,
    TrendingWindow,
    check_listing,
)
from blogqueue.tls import shared_ssl_context

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
Exclude = Callable[[list[TitleSummary]], Awaitable[set[int]]]

# Without a vote floor a 10.0 from one fan tops any rating-sorted or rating-filtered discover page.
TOP_RATED_MIN_VOTES = 200
RATED_MIN_VOTES = 50
CAST_LIMIT = 8
NOW_PLAYING_DAYS = 42  # about the window TMDb's /movie/now_playing covers
# A title's facts hardly change within hours, and the same titles come back in retries, continuous
# runs and other users' runs. A title's facts take 3-4 KB: a thousand are ~3.5 MB of a worker's
# memory, which a long-lived worker keeps full (four thousand were ~14 MB, a tenth of its budget).
DETAILS_TTL_S = 6 * 3600.0
DETAILS_CACHE_SIZE = 1024
TMDB_CONNECTIONS = 10  # per process: see `http_client`


class _Named(msgspec.Struct):
    name: str | None = None


class _Row(msgspec.Struct):
    id: int
    title: str | None = None  # movies
    name: str | None = None  # TV
    release_date: str | None = None
    first_air_date: str | None = None
    vote_average: float | None = None
    adult: bool | None = None
    poster_path: str | None = None


class _ListPage(msgspec.Struct):
    results: list[_Row] | None = None
    total_pages: int = 0


class _Person(msgspec.Struct):
    name: str | None = None
    character: str | None = None
    job: str | None = None
    order: int | None = None


class _Credits(msgspec.Struct):
    cast: list[_Person] | None = None
    crew: list[_Person] | None = None


class _Keywords(msgspec.Struct):
    keywords: list[_Named] | None = None  # movies
    results: list[_Named] | None = None  # TV


class _Details(_Row):
    original_title: str | None = None
    original_name: str | None = None
    genres: list[_Named] | None = None
    overview: str | None = None
    tagline: str | None = None
    vote_count: int | None = None
    runtime: int | None = None
    episode_run_time: list[int] | None = None
    created_by: list[_Named] | None = None
    credits: _Credits | None = None
    keywords: _Keywords | None = None


class _Error(msgspec.Struct):
    status_code: int | None = None
    status_message: str | None = None


class TtlCache(Generic[K, V]):
    """At most `size` values, each kept for `ttl_s`; the least recently used goes first."""

    def __init__(self, ttl_s: float, size: int) -> None:
        self._ttl_s, self._size = ttl_s, size
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None or item[0] <= time.monotonic():
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: K, value: V) -> None:
        self._items[key] = (time.monotonic() + self._ttl_s, value)
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)


class TmdbClient:
    """TMDb v3 over one `httpx2.AsyncClient`, shared or owned; a bearer read token wins over an api_key."""

    def __init__(
        self,
        *,
        api_key: SecretStr | None = None,
        read_access_token: SecretStr | None = None,
        base_url: str = "https://api.themoviedb.org/3",
        image_base_url: str = "https://image.tmdb.org/t/p/w500",
        timeout_s: float = 10.0,
        http: httpx2.AsyncClient | None = None,
        details_ttl_s: float = DETAILS_TTL_S,
    ) -> None:
        token, key = _secret(read_access_token), _secret(api_key)
        if token is None and key is None:
            raise Misconfigured("TMDb needs TMDB_READ_ACCESS_TOKEN or TMDB_API_KEY")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._auth_params = {} if token else {"api_key": str(key)}
        self._base_url = base_url.rstrip("/")
        self._image_base_url = image_base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._owns_http = http is None
        self._http = http or http_client(timeout_s)
        self._details: TtlCache[tuple[MediaType, int], TitleDetails] = TtlCache(
            details_ttl_s, DETAILS_CACHE_SIZE
        )

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx2.AsyncClient | None = None) -> TmdbClient:
        return cls(
            api_key=settings.tmdb_api_key,
            read_access_token=settings.tmdb_read_access_token,
            base_url=settings.tmdb_base_url,
            image_base_url=settings.tmdb_image_base_url,
            timeout_s=settings.tmdb_timeout_s,
            http=http,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

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
        path, params, via = _listing(source, media_type, filters, window, date.today())
        data = await self._get(path, params | {"page": str(page)}, _ListPage)
        rows = [_summary(row, media_type) for row in data.results or []]
        if not filters.include_adult:
            rows = [row for row in rows if not row.adult]
        return TitlePage(results=rows, page=page, total_pages=min(data.total_pages, MAX_PAGE), via=via)

    async def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails:
        """A title's facts, fetched once per DETAILS_TTL_S (failures are not kept)."""
        if (found := self._details.get((media_type, tmdb_id))) is not None:
            return found
        params = {"append_to_response": "credits,keywords"}
        data = await self._get(f"/{media_type}/{tmdb_id}", params, _Details)
        details = _details(data, media_type, self._image_base_url)
        self._details.put((media_type, tmdb_id), details)
        return details

    async def _get(self, path: str, params: dict[str, str], into: type[T]) -> T:
        # `from None`: httpx2 errors carry the request URL, which holds the api_key in that mode.
        try:
            response = await self._http.get(
                self._base_url + path,
                params={"language": "en-US"} | params | self._auth_params,
                headers=self._headers,
                timeout=self._timeout_s,
            )
        except httpx2.TimeoutException:
            raise Unavailable(f"TMDb did not answer {path} within {self._timeout_s:g} s") from None
        except httpx2.TransportError as err:
            raise Unavailable(f"TMDb cannot be reached for {path}: {type(err).__name__}") from None
        if response.status_code != 200:
            raise _error(response, path)
        try:
            return msgspec.json.decode(response.content, type=into)
        except msgspec.DecodeError as err:
            raise Unavailable(f"TMDb sent an unreadable answer for {path}: {err}") from None


async def find_new_titles(
    catalog: TitleCatalog,
    source: Source,
    media_type: MediaType,
    filters: TitleFilters,
    count: int,
    *,
    exclude: Exclude,
    window: TrendingWindow = TrendingWindow.WEEK,
) -> list[TitleSummary]:
    """Up to `count` titles in listing order that `exclude` does not claim, paging until the last page."""
    found: dict[int, TitleSummary] = {}
    page, last_page = 1, 1
    while len(found) < count and page <= min(last_page, MAX_PAGE):
        listing = await catalog.list_titles(source, media_type, filters, page=page, window=window)
        # Lists shift while we page, so a title can show up on two pages.
        candidates = list({t.tmdb_id: t for t in listing.results if t.tmdb_id not in found}.values())
        taken = await exclude(candidates) if candidates else set()
        found |= {t.tmdb_id: t for t in candidates if t.tmdb_id not in taken}
        page, last_page = page + 1, listing.total_pages
    return list(found.values())[:count]


def http_client(timeout_s: float) -> httpx2.AsyncClient:
    """A client for TMDb: httpx2, which the provider SDKs use too, at 60 % of httpx's CPU a request.
    Few connections, all kept alive: the pool checks each of its connections on every request,
    and beyond its kept-alive ones opens and closes a connection per request, so 50 posts at once
    cost 4x the CPU a request that 8-16 connections cost. TMDb takes about 40 requests a second
    from one address; 10 connections carry more at its usual ~100 ms."""
    limits = httpx2.Limits(max_connections=TMDB_CONNECTIONS, max_keepalive_connections=TMDB_CONNECTIONS)
    return httpx2.AsyncClient(timeout=timeout_s, limits=limits, verify=shared_ssl_context())


def open_catalog(settings: Settings, http: httpx2.AsyncClient | None = None) -> TitleCatalog:
    """TMDb when credentials are set, else the sample catalog shipped with BlogQueue."""
    if _secret(settings.tmdb_read_access_token) or _secret(settings.tmdb_api_key):
        return TmdbClient.from_settings(settings, http)
    return SampleCatalog()


def _secret(value: SecretStr | None) -> str | None:
    return (value.get_secret_value().strip() or None) if value is not None else None


def _listing(
    source: Source, media_type: MediaType, filters: TitleFilters, window: TrendingWindow, today: date
) -> tuple[str, dict[str, str], str]:
    """Path, params and `via` label; the fixed lists take no filters, so filters mean /discover."""
    filtered = filters.any or filters.include_adult
    fixed = f"/trending/{media_type}/{window}" if source is Source.TRENDING else f"/{media_type}/{source}"
    if not filtered and source is not Source.DISCOVER:
        return fixed, {}, fixed
    path = f"/discover/{media_type}"
    params = _discover_params(source, media_type, filters, today)
    if not filtered:
        return path, params, path
    instead = "" if source is Source.DISCOVER else f"; in place of {fixed}"
    return path, params, f"{path} (filters: {filters.describe()}{instead})"


def _discover_params(
    source: Source, media_type: MediaType, filters: TitleFilters, today: date
) -> dict[str, str]:
    rated = source is Source.TOP_RATED
    params = {
        "sort_by": "vote_average.desc" if rated else "popularity.desc",
        "include_adult": "true" if filters.include_adult else "false",
    }
    if rated or filters.min_rating is not None:
        params["vote_count.gte"] = str(TOP_RATED_MIN_VOTES if rated else RATED_MIN_VOTES)
    if filters.min_rating is not None:
        params["vote_average.gte"] = f"{filters.min_rating:g}"
    low = f"{filters.year_from:04d}-01-01" if filters.year_from is not None else ""
    high = f"{filters.year_to:04d}-12-31" if filters.year_to is not None else ""
    if source is Source.NOW_PLAYING:
        low = max(low, (today - timedelta(days=NOW_PLAYING_DAYS)).isoformat())
        high = min(high or "9999-12-31", today.isoformat())
    elif source is Source.UPCOMING:
        low = max(low, (today + timedelta(days=1)).isoformat())
    elif source in {Source.ON_THE_AIR, Source.AIRING_TODAY}:
        days = 7 if source is Source.ON_THE_AIR else 0
        params |= {"air_date.gte": today.isoformat(), "air_date.lte": (today + timedelta(days)).isoformat()}
    field = "primary_release_date" if media_type is MediaType.MOVIE else "first_air_date"
    params |= {f"{field}.gte": low} if low else {}
    params |= {f"{field}.lte": high} if high else {}
    return params


def _summary(row: _Row, media_type: MediaType) -> TitleSummary:
    return TitleSummary(
        tmdb_id=row.id,
        media_type=media_type,
        title=row.title or row.name or "",
        year=_year(_released(row)),
        rating=row.vote_average,
        adult=bool(row.adult),
        poster_path=row.poster_path or None,
    )


def _details(data: _Details, media_type: MediaType, image_base_url: str) -> TitleDetails:
    credits, keywords = data.credits or _Credits(), data.keywords or _Keywords()
    cast = sorted((p for p in credits.cast or [] if p.name), key=lambda p: (p.order is None, p.order or 0))
    if media_type is MediaType.MOVIE:
        directors = [p.name for p in credits.crew or [] if p.job == "Director" and p.name]
        runtime = data.runtime
    else:
        directors = [p.name for p in data.created_by or [] if p.name]
        runtime = next(iter(data.episode_run_time or []), None)
    released = _released(data)
    return TitleDetails(
        tmdb_id=data.id,
        media_type=media_type,
        title=data.title or data.name or "",
        original_title=data.original_title or data.original_name or "",
        year=_year(released),
        release_date=released,
        genres=_names(data.genres),
        overview=data.overview or "",
        tagline=data.tagline or "",
        rating=data.vote_average,
        vote_count=data.vote_count or 0,
        runtime_minutes=runtime or None,
        cast=[CastMember(p.name or "", p.character or "") for p in cast[:CAST_LIMIT]],
        directors=list(dict.fromkeys(directors)),
        keywords=_names(keywords.keywords or keywords.results),  # TMDb: movies `keywords`, TV `results`
        poster_url=image_base_url + data.poster_path if data.poster_path else None,
    )


def _names(items: list[_Named] | None) -> list[str]:
    return [item.name for item in items or [] if item.name]


def _released(row: _Row) -> str | None:
    return row.release_date or row.first_air_date or None


def _year(day: str | None) -> int | None:
    return int(day[:4]) if day and day[:4].isdigit() else None


def _error(response: httpx2.Response, path: str) -> BlogQueueError:
    try:
        body = msgspec.json.decode(response.content, type=_Error)
    except msgspec.DecodeError:
        body = _Error()
    said = f"HTTP {response.status_code}"
    if body.status_code is not None:
        said += f", status_code {body.status_code}: {body.status_message or ''}".rstrip(": ")
    if response.status_code == 401:
        return Misconfigured(
            f"TMDb rejected the API key or read access token ({said}): "
            "check TMDB_API_KEY / TMDB_READ_ACCESS_TOKEN"
        )
    if response.status_code == 404:
        return NotFound(f"TMDb has nothing at {path} ({said})")
    if response.status_code in {400, 422}:
        return InvalidInput(f"TMDb refused {path} ({said})")
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return Unavailable(f"TMDb could not answer {path} ({said})", retry_after_s=retry_after)
