import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from importlib import resources

import httpx2
import pytest
from pydantic import SecretStr

from blogfakes.tmdb_server import (
    API_KEY,
    BROKEN_ID,
    FIRST_ID,
    RATE_LIMITED_ID,
    READ_TOKEN,
    SLOW_ID,
    SPARSE_ID,
    FakeTmdb,
    start_fake_tmdb,
)
from blogqueue.errors import InvalidInput, Misconfigured, NotFound, Unavailable
from blogqueue.sample_catalog import SampleCatalog, load_sample_titles
from blogqueue.settings import Settings
from blogqueue.titles import CastMember, MediaType, Source, TitleFilters, TitleSummary, TrendingWindow
from blogqueue.tmdb import TmdbClient, TtlCache, find_new_titles, open_catalog

MOVIE, TV = MediaType.MOVIE, MediaType.TV
NO_FILTERS = TitleFilters()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTmdb]:
    with start_fake_tmdb() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient() as client:
        yield client


@pytest.fixture
def tmdb(fake: FakeTmdb, http: httpx2.AsyncClient) -> TmdbClient:
    fake.requests.clear()
    return TmdbClient(api_key=SecretStr(API_KEY), base_url=fake.url, http=http)


@pytest.mark.parametrize(
    ("media_type", "source"),
    [(MOVIE, s) for s in ("popular", "top_rated", "now_playing", "upcoming")]
    + [(TV, s) for s in ("popular", "top_rated", "on_the_air", "airing_today")],
)
async def test_each_list_source_reads_its_tmdb_path(
    tmdb: TmdbClient, fake: FakeTmdb, media_type: MediaType, source: str
) -> None:
    page = await tmdb.list_titles(Source(source), media_type, NO_FILTERS, page=2)
    assert page.via == f"/{media_type}/{source}"
    assert page.page == 2 and page.total_pages == 500  # the fake reports 38 029
    [request] = fake.requests
    assert request.path == f"/3/{media_type}/{source}"
    assert request.params == {"language": "en-US", "page": "2", "api_key": API_KEY}
    assert "authorization" not in request.headers
    assert page.results[0].tmdb_id == FIRST_ID + 20
    assert {t.media_type for t in page.results} == {media_type}


async def test_list_rows_are_parsed_with_their_null_fields(tmdb: TmdbClient) -> None:
    page = await tmdb.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=1)
    by_id = {t.tmdb_id: t for t in page.results}
    assert by_id[1000] == TitleSummary(
        tmdb_id=1000,
        media_type=MOVIE,
        title="Fake Movie 1000",
        year=1950,
        rating=0.0,
        poster_path="/poster1000.jpg",
    )
    assert by_id[1003].poster_path is None
    assert by_id[1007].year is None  # empty release_date
    tv = await tmdb.list_titles(Source.POPULAR, TV, NO_FILTERS, page=1)
    assert tv.results[1].title == "Fake Show 1001" and tv.results[1].year == 1957


async def test_adult_rows_are_dropped_unless_asked_for(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    page = await tmdb.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=1)
    assert len(page.results) == 19 and 1005 not in {t.tmdb_id for t in page.results}
    adult = await tmdb.list_titles(Source.POPULAR, MOVIE, TitleFilters(include_adult=True), page=1)
    assert fake.requests[-1].path == "/3/discover/movie"
    assert fake.requests[-1].params["include_adult"] == "true"
    assert adult.via == "/discover/movie (filters: adult included; in place of /movie/popular)"
    assert any(t.adult for t in adult.results) and len(adult.results) == 20


@pytest.mark.parametrize("window", list(TrendingWindow))
@pytest.mark.parametrize("media_type", [MOVIE, TV])
async def test_trending_by_day_or_week(
    tmdb: TmdbClient, fake: FakeTmdb, media_type: MediaType, window: TrendingWindow
) -> None:
    page = await tmdb.list_titles(Source.TRENDING, media_type, NO_FILTERS, page=3, window=window)
    assert page.via == f"/trending/{media_type}/{window}"
    assert fake.requests[-1].path == f"/3/trending/{media_type}/{window}"
    assert fake.requests[-1].params["page"] == "3"
    assert page.results and not any(t.adult for t in page.results)


async def test_filters_on_top_rated_use_discover_sorted_by_rating(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    filters = TitleFilters(min_rating=7, year_from=1990, year_to=1999)
    page = await tmdb.list_titles(Source.TOP_RATED, MOVIE, filters, page=1)
    assert page.via == "/discover/movie (filters: minRating≥7, 1990-1999; in place of /movie/top_rated)"
    request = fake.requests[-1]
    assert request.path == "/3/discover/movie"
    assert request.params == {
        "language": "en-US", "page": "1", "api_key": API_KEY, "sort_by": "vote_average.desc",
        "include_adult": "false", "vote_count.gte": "200", "vote_average.gte": "7",
        "primary_release_date.gte": "1990-01-01", "primary_release_date.lte": "1999-12-31",
    }  # fmt: skip
    assert page.results and 1 < page.total_pages < 500
    ratings = [t.rating or 0 for t in page.results]
    assert ratings == sorted(ratings, reverse=True) and min(ratings) >= 7
    assert all(t.year is not None and 1990 <= t.year <= 1999 for t in page.results)


async def test_filters_on_tv_popular_use_first_air_dates(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    page = await tmdb.list_titles(Source.POPULAR, TV, TitleFilters(year_from=2000), page=1)
    params = fake.requests[-1].params
    assert fake.requests[-1].path == "/3/discover/tv"
    assert params["sort_by"] == "popularity.desc" and params["first_air_date.gte"] == "2000-01-01"
    assert "vote_count.gte" not in params and "first_air_date.lte" not in params
    assert page.via.startswith("/discover/tv (filters: from 2000;")
    assert page.results and all((t.year or 0) >= 2000 for t in page.results)


async def test_filtered_now_playing_keeps_its_release_window(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    await tmdb.list_titles(Source.NOW_PLAYING, MOVIE, TitleFilters(min_rating=6, year_from=1990), page=1)
    params, today = fake.requests[-1].params, date.today()
    assert params["primary_release_date.gte"] == (today - timedelta(days=42)).isoformat()
    assert params["primary_release_date.lte"] == today.isoformat()
    assert (params["vote_average.gte"], params["vote_count.gte"]) == ("6", "50")


async def test_filtered_on_the_air_asks_for_episodes_this_week(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    page = await tmdb.list_titles(Source.ON_THE_AIR, TV, TitleFilters(min_rating=5), page=1)
    params, today = fake.requests[-1].params, date.today()
    assert (params["air_date.gte"], params["air_date.lte"]) == (
        today.isoformat(),
        (today + timedelta(7)).isoformat(),
    )
    # The fake airs even rows, one every day: index // 2 % 30 <= 7.
    assert page.results and all(
        (t.tmdb_id - FIRST_ID) % 2 == 0 and (t.tmdb_id - FIRST_ID) // 2 % 30 <= 7 for t in page.results
    )


async def test_plain_discover_needs_no_filters(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    page = await tmdb.list_titles(Source.DISCOVER, MOVIE, NO_FILTERS, page=1)
    assert page.via == "/discover/movie"
    assert fake.requests[-1].params["sort_by"] == "popularity.desc"
    assert fake.requests[-1].params["include_adult"] == "false"


@pytest.mark.parametrize("page", [0, 501])
async def test_a_page_tmdb_would_refuse_is_never_requested(
    tmdb: TmdbClient, fake: FakeTmdb, page: int
) -> None:
    with pytest.raises(InvalidInput, match="between 1 and 500") as caught:
        await tmdb.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=page)
    assert caught.value.field == "page"
    assert fake.requests == []


async def test_the_fake_itself_refuses_page_501(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    response = await http.get(f"{fake.url}/movie/popular", params={"api_key": API_KEY, "page": "501"})
    assert response.status_code == 400 and response.json()["status_code"] == 22


async def test_a_source_of_the_other_media_type_is_refused(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    with pytest.raises(InvalidInput, match="now_playing is not available for tv"):
        await tmdb.list_titles(Source.NOW_PLAYING, TV, NO_FILTERS, page=1)
    assert fake.requests == []


async def test_movie_details_in_one_call(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    details = await tmdb.details(MOVIE, 1000)
    [request] = fake.requests
    assert request.path == "/3/movie/1000" and request.params["append_to_response"] == "credits,keywords"
    assert (details.title, details.original_title, details.year, details.release_date) == (
        "Fake Movie 1000", "Fake Movie 1000", 1950, "1950-01-01",
    )  # fmt: skip
    assert details.genres == ["Drama", "Comedy"] and details.runtime_minutes == 80
    assert details.tagline == "Tagline 1000" and details.overview == "Overview of 1000."
    assert details.cast == [CastMember(f"Actor 1000-{o}", f"Role {o}") for o in range(8)]
    assert details.directors == ["Director 1000"]
    assert details.keywords == ["keyword 1000-0", "keyword 1000-1", "keyword 1000-2"]
    assert details.poster_url == "https://image.tmdb.org/t/p/w500/poster1000.jpg"
    assert details.sample is False


async def test_details_are_fetched_once_until_they_expire(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    fake.requests.clear()
    cached = TmdbClient(api_key=SecretStr(API_KEY), base_url=fake.url, http=http)
    first = await cached.details(MOVIE, 1000)
    assert [await cached.details(MOVIE, 1000) for _ in range(3)] == [first] * 3
    assert (await cached.details(TV, 1000)).media_type == TV  # another title: the same id as TV
    assert fake.paths() == ["/3/movie/1000", "/3/tv/1000"]
    expiring = TmdbClient(api_key=SecretStr(API_KEY), base_url=fake.url, http=http, details_ttl_s=0.05)
    await expiring.details(MOVIE, 1000)
    await asyncio.sleep(0.1)
    await expiring.details(MOVIE, 1000)
    assert fake.paths().count("/3/movie/1000") == 3


async def test_a_failed_details_call_is_not_kept(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    for _ in range(2):
        with pytest.raises(Unavailable):
            await tmdb.details(TV, BROKEN_ID)
    assert len(fake.requests) == 2


def test_the_cache_drops_the_least_recently_used_first() -> None:
    cache: TtlCache[int, str] = TtlCache(ttl_s=60, size=2)
    cache.put(1, "one")
    cache.put(2, "two")
    assert cache.get(1) == "one"  # 2 is now the least recently used
    cache.put(3, "three")
    assert (cache.get(1), cache.get(2), cache.get(3)) == ("one", None, "three")


async def test_details_calls_reuse_one_connection(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    fake.requests.clear()
    client = TmdbClient(api_key=SecretStr(API_KEY), base_url=fake.url, http=http)
    for tmdb_id in range(1000, 1010):
        await client.details(MOVIE, tmdb_id)
    assert len(fake.requests) == 10
    assert len({request.client for request in fake.requests}) == 1


async def test_tv_details_use_name_creators_and_the_keyword_quirk(tmdb: TmdbClient) -> None:
    details = await tmdb.details(TV, 1001)
    assert (details.title, details.year, details.release_date) == ("Fake Show 1001", 1957, "1957-02-02")
    assert details.directors == ["Creator 1001"] and details.runtime_minutes == 42
    assert details.keywords == ["keyword 1001-0", "keyword 1001-1", "keyword 1001-2"]
    assert len(details.cast) == 8 and details.cast[0].name == "Actor 1001-0"


async def test_null_and_missing_detail_fields_are_normal(tmdb: TmdbClient) -> None:
    assert (await tmdb.details(MOVIE, 1003)).poster_url is None
    undated = await tmdb.details(MOVIE, 1007)
    assert (undated.release_date, undated.year) == (None, None)
    for media_type, title in ((MOVIE, "Sparse Movie"), (TV, "Sparse Show")):
        sparse = await tmdb.details(media_type, SPARSE_ID)
        assert sparse.title == title and sparse.year is None and sparse.release_date is None
        assert (sparse.genres, sparse.directors, sparse.keywords) == ([], [], [])
        assert (sparse.tagline, sparse.runtime_minutes, sparse.poster_url) == ("", None, None)
        assert sparse.cast == [CastMember("Uncredited", "")]


async def test_bearer_token_wins_over_the_api_key(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    fake.requests.clear()
    client = TmdbClient(
        api_key=SecretStr("ignored"), read_access_token=SecretStr(READ_TOKEN), base_url=fake.url, http=http
    )
    page = await client.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=1)
    assert page.results
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {READ_TOKEN}"
    assert "api_key" not in request.params


@pytest.mark.parametrize("bearer", [False, True])
async def test_rejected_credentials_are_a_configuration_error(
    fake: FakeTmdb, http: httpx2.AsyncClient, bearer: bool
) -> None:
    wrong = SecretStr("wrong")
    token, key = (wrong, None) if bearer else (None, wrong)
    client = TmdbClient(read_access_token=token, api_key=key, base_url=fake.url, http=http)
    with pytest.raises(Misconfigured) as caught:
        await client.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=1)
    message = caught.value.message
    assert "status_code 7: Invalid API key" in message and "TMDB_API_KEY / TMDB_READ_ACCESS_TOKEN" in message
    assert "wrong" not in message


async def test_unknown_id_is_not_found(tmdb: TmdbClient) -> None:
    with pytest.raises(NotFound, match="status_code 34"):
        await tmdb.details(MOVIE, 1)


async def test_rate_limit_is_unavailable_with_retry_after(tmdb: TmdbClient) -> None:
    with pytest.raises(Unavailable, match="status_code 25") as caught:
        await tmdb.details(MOVIE, RATE_LIMITED_ID)
    assert caught.value.retry_after_s == 1.0


async def test_server_error_is_unavailable(tmdb: TmdbClient) -> None:
    with pytest.raises(Unavailable, match="HTTP 500") as caught:
        await tmdb.details(TV, BROKEN_ID)
    assert caught.value.retry_after_s is None


async def test_a_slow_answer_times_out_as_unavailable(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    client = TmdbClient(api_key=SecretStr(API_KEY), base_url=fake.url, http=http, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"did not answer /movie/504 within 0\.2 s"):
        await client.details(MOVIE, SLOW_ID)
    assert time.monotonic() - started < 0.9


async def test_nothing_listening_is_unavailable_without_leaking_the_key() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TmdbClient(api_key=SecretStr("k-secret"), base_url=f"http://127.0.0.1:{port}/3")
    try:
        with pytest.raises(Unavailable, match="cannot be reached") as caught:
            await client.details(MOVIE, 1000)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        assert "k-secret" not in str(caught.value)
    finally:
        await client.aclose()


async def test_a_shared_http_client_stays_open(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    client = TmdbClient(api_key=SecretStr(API_KEY), base_url=fake.url, http=http)
    await client.aclose()
    assert not http.is_closed


def test_no_credentials_is_a_configuration_error() -> None:
    with pytest.raises(Misconfigured, match="TMDB_READ_ACCESS_TOKEN or TMDB_API_KEY"):
        TmdbClient(api_key=SecretStr(" "))


class Taken:
    """An `exclude` that claims the given ids and records each call."""

    def __init__(self, claimed: set[int] | None = None, *, everything: bool = False) -> None:
        self.claimed, self.everything = claimed or set(), everything
        self.calls: list[list[int]] = []

    async def __call__(self, candidates: list[TitleSummary]) -> set[int]:
        self.calls.append([t.tmdb_id for t in candidates])
        ids = {t.tmdb_id for t in candidates}
        return ids if self.everything else ids & self.claimed


async def test_find_new_titles_skips_taken_ones_and_stops_at_count(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    exclude = Taken({1000, 1001, 1002, 1021})
    found = await find_new_titles(tmdb, Source.POPULAR, MOVIE, NO_FILTERS, 20, exclude=exclude)
    expected = [i for i in range(1003, 1026) if i not in {1005, 1021, 1022}]  # 1005, 1022: adult
    assert [t.tmdb_id for t in found] == expected
    assert [r.params["page"] for r in fake.requests] == ["1", "2"]
    assert exclude.calls[0] == [i for i in range(1000, 1020) if i != 1005]


async def test_find_new_titles_stops_at_the_last_page(fake: FakeTmdb, http: httpx2.AsyncClient) -> None:
    with start_fake_tmdb(total_results=45) as small:
        client = TmdbClient(api_key=SecretStr(API_KEY), base_url=small.url, http=http)
        found = await find_new_titles(client, Source.TOP_RATED, TV, NO_FILTERS, 100, exclude=Taken())
        assert [r.params["page"] for r in small.requests] == ["1", "2", "3"]
    assert [t.tmdb_id for t in found] == list(range(1000, 1045))


async def test_find_new_titles_never_asks_past_page_500(tmdb: TmdbClient, fake: FakeTmdb) -> None:
    exclude = Taken(everything=True)
    found = await find_new_titles(
        tmdb, Source.TRENDING, MOVIE, NO_FILTERS, 5, exclude=exclude, window=TrendingWindow.DAY
    )
    assert found == []
    assert [int(r.params["page"]) for r in fake.requests] == list(range(1, 501))
    assert {r.path for r in fake.requests} == {"/3/trending/movie/day"}
    assert len(exclude.calls) == 500


async def test_find_new_titles_over_the_sample_catalog() -> None:
    found = await find_new_titles(SampleCatalog(), Source.TOP_RATED, MOVIE, NO_FILTERS, 25, exclude=Taken())
    assert len(found) == 25 and len({t.tmdb_id for t in found}) == 25
    assert await find_new_titles(SampleCatalog(), Source.POPULAR, TV, NO_FILTERS, 0, exclude=Taken()) == []


def test_the_sample_data_is_labelled_and_complete() -> None:
    raw = json.loads(
        (resources.files("blogqueue") / "data" / "sample_titles.json").read_text(encoding="utf-8")
    )
    assert (
        raw["note"] == "Sample data shipped with BlogQueue for use without TMDb credentials; not from TMDb."
    )
    assert raw["sample"] is True
    titles = load_sample_titles()
    movies = [t for t in titles if t.media_type is MOVIE]
    assert len(movies) == 30 and len(titles) - len(movies) == 20
    assert len({(t.media_type, t.id) for t in titles}) == len(titles)
    assert all(t.overview and t.cast and t.directors and t.keywords and t.genres for t in titles)


async def test_sample_sources_order_and_page_like_tmdb() -> None:
    catalog = SampleCatalog()
    first = await catalog.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=1)
    second = await catalog.list_titles(Source.POPULAR, MOVIE, NO_FILTERS, page=2)
    assert (len(first.results), len(second.results), first.total_pages) == (20, 10, 2)
    assert first.via == "sample catalog: popular movie"
    popularity = {t.id: t.popularity for t in load_sample_titles()}
    ranked = [popularity[t.tmdb_id] for t in first.results + second.results]
    assert ranked == sorted(ranked, reverse=True) and first.results[0].title == "Dune: Part Two"
    top = await catalog.list_titles(Source.TOP_RATED, TV, NO_FILTERS, page=1)
    ratings = [t.rating or 0 for t in top.results]
    assert ratings == sorted(ratings, reverse=True) and top.results[0].title == "Breaking Bad"
    with pytest.raises(InvalidInput):
        await catalog.list_titles(Source.AIRING_TODAY, MOVIE, NO_FILTERS, page=1)


async def test_sample_filters_apply_client_side() -> None:
    catalog = SampleCatalog()
    filters = TitleFilters(min_rating=8.4, year_from=1990, year_to=1999)
    page = await catalog.list_titles(Source.POPULAR, MOVIE, filters, page=1)
    assert page.results and page.via == "sample catalog: popular movie (filters: minRating≥8.4, 1990-1999)"
    assert all((t.rating or 0) >= 8.4 and t.year is not None and 1990 <= t.year <= 1999 for t in page.results)
    assert "Pulp Fiction" in {t.title for t in page.results} and "Titanic" not in {
        t.title for t in page.results
    }


async def test_sample_details_are_marked_as_sample() -> None:
    catalog = SampleCatalog()
    [first, *_] = (await catalog.list_titles(Source.POPULAR, TV, NO_FILTERS, page=1)).results
    details = await catalog.details(TV, first.tmdb_id)
    assert details.sample is True and details.title == first.title and details.directors
    with pytest.raises(NotFound):
        await catalog.details(MOVIE, first.tmdb_id)


def settings_for(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ("TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN", "TMDB_BASE_URL", "BLOGQUEUE_TMDB_IMAGE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


async def test_open_catalog_without_credentials_serves_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_catalog(settings_for(monkeypatch)), SampleCatalog)
    assert isinstance(open_catalog(settings_for(monkeypatch, TMDB_API_KEY="")), SampleCatalog)


async def test_open_catalog_with_credentials_talks_to_tmdb(
    monkeypatch: pytest.MonkeyPatch, fake: FakeTmdb, http: httpx2.AsyncClient
) -> None:
    settings = settings_for(
        monkeypatch, TMDB_READ_ACCESS_TOKEN=READ_TOKEN, TMDB_BASE_URL=fake.url,
        BLOGQUEUE_TMDB_IMAGE_BASE_URL="https://img.example/w342",
    )  # fmt: skip
    catalog = open_catalog(settings, http)
    assert isinstance(catalog, TmdbClient)
    details = await catalog.details(MOVIE, 1000)
    assert details.poster_url == "https://img.example/w342/poster1000.jpg"
    await catalog.aclose()
    assert not http.is_closed
    owned = open_catalog(settings_for(monkeypatch, TMDB_API_KEY=API_KEY, TMDB_BASE_URL=fake.url))
    try:
        assert (await owned.details(TV, 1000)).title == "Fake Show 1000"
    finally:
        await owned.aclose()
