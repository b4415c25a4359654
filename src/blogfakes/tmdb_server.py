"""A fake TMDb API v3, faithful to the wire (paths, auth, list and details shapes, the keyword quirk,
the page-500 limit, error bodies), served by uvicorn on a free port in a background thread.

Data is generated from the row index: ids start at FIRST_ID; every 10th row (index % 10 == 3) has a
null poster_path, index % 10 == 7 an empty release date, index % 17 == 5 is adult. Magic ids for
details drive the failure paths: RATE_LIMITED_ID, BROKEN_ID, SLOW_ID, and SPARSE_ID (nulls everywhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

API_KEY = "fake-tmdb-api-key"
READ_TOKEN = "fake-tmdb-read-token"
FIRST_ID = 1000
PAGE_SIZE = 20
REAL_TOTAL_RESULTS = 760_571  # 38 029 pages, as a real /movie/popular reported
DISCOVER_UNIVERSE = 500 * PAGE_SIZE  # discover filters only what pages 1-500 could ever serve
RATE_LIMITED_ID = 429  # 429, status_code 25, Retry-After: 1
BROKEN_ID = 500  # 500, status_code 11
SLOW_ID = 504  # sleeps `slow_s` (beyond a short client timeout), then 504, status_code 24
SPARSE_ID = 999  # details with null, empty and missing fields
CAST_ORDER = [3, 0, 6, 9, 2, 5, 8, 1, 4, 7]

LISTS = {
    "movie": {"popular", "top_rated", "now_playing", "upcoming"},
    "tv": {"popular", "top_rated", "on_the_air", "airing_today"},
}
GENRES = [(18, "Drama"), (35, "Comedy"), (28, "Action"), (878, "Science Fiction"), (27, "Horror")]
ERRORS = {
    7: (401, "Invalid API key: You must be granted a valid key."),
    11: (500, "Internal error: Something went wrong, contact TMDb."),
    22: (400, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."),
    23: (400, "Invalid date: Format needs to be YYYY-MM-DD."),
    24: (504, "Your request to the backend server timed out. Try again."),
    25: (429, "Your request count (41) is over the allowed limit of (40)."),
    34: (404, "The resource you requested could not be found."),
}

Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    client: tuple[str, int] | None = None  # the connection's address: equal for reused connections


@dataclass
class FakeTmdb:
    url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    gone_ids: set[int] = field(default_factory=set)  # listed, but their details answer 404

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


def error(code: int, headers: dict[str, str] | None = None) -> Answer:
    status, message = ERRORS[code]
    return status, {"success": False, "status_code": code, "status_message": message}, headers or {}


def row(media: str, index: int) -> dict[str, Any]:
    """One list row; details build on it, so a title looks the same everywhere."""
    tmdb_id, year = FIRST_ID + index, 1950 + (index * 7) % 76
    released = "" if index % 10 == 7 else f"{year}-{1 + index % 12:02d}-{1 + index % 28:02d}"
    base = {
        "id": tmdb_id, "adult": index % 17 == 5, "backdrop_path": f"/backdrop{tmdb_id}.jpg",
        "genre_ids": [GENRES[index % 5][0]], "original_language": "en", "overview": f"Overview of {tmdb_id}.",
        "popularity": round(5000 - index * 0.01, 2), "poster_path": None if index % 10 == 3 else f"/poster{tmdb_id}.jpg",
        "vote_average": round((index * 37) % 101 / 10, 1), "vote_count": (index * 53) % 5000,
    }  # fmt: skip
    if media == "movie":
        name = f"Fake Movie {tmdb_id}"
        return base | {"title": name, "original_title": name, "release_date": released, "video": False}
    name = f"Fake Show {tmdb_id}"
    return base | {"name": name, "original_name": name, "first_air_date": released, "origin_country": ["US"]}


def next_air_date(index: int) -> date | None:
    """TV only: even rows are still running, with an episode 0-29 days from today."""
    return date.today() + timedelta(days=index // 2 % 30) if index % 2 == 0 else None


def details(media: str, index: int, appended: set[str]) -> dict[str, Any]:
    tmdb_id = FIRST_ID + index
    genres = [{"id": g, "name": n} for g, n in GENRES[index % 5 : index % 5 + 2]]
    body = row(media, index) | {"genres": genres, "tagline": f"Tagline {tmdb_id}", "status": "Released"}
    words = [{"id": k, "name": f"keyword {tmdb_id}-{k}"} for k in range(3)]
    if media == "movie":
        body |= {"runtime": 80 + index % 60, "imdb_id": f"tt{tmdb_id:07d}", "belongs_to_collection": None}
        crew = [{"name": f"Director {tmdb_id}", "job": "Director", "department": "Directing"},
                {"name": f"Writer {tmdb_id}", "job": "Screenplay", "department": "Writing"}]  # fmt: skip
        keywords = {"keywords": words}
    else:
        creator = {
            "id": 1,
            "credit_id": "c1",
            "name": f"Creator {tmdb_id}",
            "gender": 0,
            "profile_path": None,
        }
        body |= {"created_by": [creator], "episode_run_time": [42], "in_production": index % 2 == 0}
        crew = [{"name": f"Producer {tmdb_id}", "job": "Executive Producer", "department": "Production"}]
        keywords = {"results": words}  # TMDb's quirk: TV keywords live under `results`
    # Ten billed actors listed out of order: the client must sort by `order` and keep eight.
    cast = [{"name": f"Actor {tmdb_id}-{o}", "character": f"Role {o}", "order": o} for o in CAST_ORDER]
    return body | _appended(appended, {"cast": cast, "crew": crew}, keywords)


def sparse_details(media: str, appended: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": SPARSE_ID, "poster_path": None, "overview": "", "tagline": None,
                            "genres": None, "vote_average": 0, "vote_count": 0}  # fmt: skip
    if media == "movie":
        body |= {"title": "Sparse Movie", "release_date": "", "runtime": None}
        keywords: dict[str, Any] = {"keywords": []}
    else:
        body |= {"name": "Sparse Show", "first_air_date": None, "episode_run_time": [], "created_by": []}
        keywords = {"results": []}
    credits = {"cast": [{"name": "Uncredited", "character": None, "order": None}], "crew": None}
    return body | _appended(appended, credits, keywords)


def _appended(appended: set[str], credits: dict[str, Any], keywords: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in {"credits": credits, "keywords": keywords}.items() if k in appended}


@dataclass(frozen=True)
class _Facts:
    """What discover filters a row by, worked out once per row (building rows took ~20 us each)."""

    adult: bool
    vote_average: float
    vote_count: int
    released: str
    aired: str | None


@functools.lru_cache(maxsize=4)
def _facts(media: str, universe: int, today: date) -> list[_Facts]:
    """Every row's facts; `today` in the key, as TV air dates count from it."""
    facts = []
    for index in range(universe):
        r, aired = row(media, index), next_air_date(index) if media == "tv" else None
        released = r.get("release_date") or r.get("first_air_date") or ""
        facts.append(_Facts(r["adult"], r["vote_average"], r["vote_count"], released,
                            aired.isoformat() if aired else None))  # fmt: skip
    return facts


@functools.lru_cache(maxsize=256)
def discover(media: str, universe: int, params: tuple[tuple[str, str], ...]) -> list[int]:
    """Indices matching the discover params we send, in the order `sort_by` asks for."""
    p, facts = dict(params), _facts(media, universe, date.today())
    field_ = "primary_release_date" if media == "movie" else "first_air_date"
    adult, air = p.get("include_adult", "false") == "true", (p.get("air_date.gte"), p.get("air_date.lte"))
    released = (p.get(f"{field_}.gte"), p.get(f"{field_}.lte"))
    rating, votes = float(p.get("vote_average.gte", 0)), int(p.get("vote_count.gte", 0))
    found = [
        index
        for index, f in enumerate(facts)
        if (adult or not f.adult)
        and f.vote_average >= rating
        and f.vote_count >= votes
        and _within(f.released, *released)
        and (not any(air) or (f.aired is not None and _within(f.aired, *air)))
    ]
    if p.get("sort_by") == "vote_average.desc":
        found.sort(key=lambda i: (-facts[i].vote_average, i))
    return found


def _within(day: str, low: str | None, high: str | None) -> bool:
    if not (low or high):
        return True
    return bool(day) and (low is None or day >= low) and (high is None or day <= high)


class FakeTmdbApp:
    def __init__(self, fake: FakeTmdb, total_results: int, slow_s: float) -> None:
        self.log, self.gone_ids, self.total_results, self.slow_s = (
            fake.requests,
            fake.gone_ids,
            total_results,
            slow_s,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        params = dict(parse_qsl(scope["query_string"].decode()))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        client = tuple(scope["client"]) if scope.get("client") else None
        self.log.append(RecordedRequest(scope["path"], params, headers, client))
        status, body, extra = await self.answer(scope["path"], params, headers)
        raw = [
            (b"content-type", b"application/json;charset=utf-8"),
            *((k.encode(), v.encode()) for k, v in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        if params.get("api_key") != API_KEY and headers.get("authorization") != f"Bearer {READ_TOKEN}":
            return error(7)
        parts = path.removeprefix("/3/").split("/")
        match parts:
            case [media, name] if name in LISTS.get(media, ()):
                extra = _dates() if name in {"now_playing", "upcoming"} else {}
                return self.listing(media, params, extra=extra)
            case ["trending", "movie" | "tv" as media, "day" | "week"]:
                return self.listing(media, params, trending=True)
            case ["discover", "movie" | "tv" as media]:
                return self.discover(media, params)
            case ["movie" | "tv" as media, tmdb_id] if tmdb_id.isdigit():
                return await self.details(
                    media, int(tmdb_id), set(params.get("append_to_response", "").split(","))
                )
        return error(34)

    def listing(
        self,
        media: str,
        params: dict[str, str],
        *,
        trending: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Answer:
        page = _page(params)
        if page is None:
            return error(22)
        indices = range((page - 1) * PAGE_SIZE, min(page * PAGE_SIZE, self.total_results))
        rows = [_list_row(media, i, trending=trending) for i in indices]
        return 200, _page_body(page, rows, self.total_results) | (extra or {}), {}

    def discover(self, media: str, params: dict[str, str]) -> Answer:
        page = _page(params)
        if page is None:
            return error(22)
        for key, value in params.items():
            if key.endswith(("_date.gte", "_date.lte")):
                try:
                    date.fromisoformat(value)
                except ValueError:
                    return error(23)
        wanted = tuple(sorted((k, v) for k, v in params.items() if k not in {"page", "api_key", "language"}))
        found = discover(media, min(self.total_results, DISCOVER_UNIVERSE), wanted)
        rows = [_list_row(media, i, trending=False) for i in found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
        return 200, _page_body(page, rows, len(found)), {}

    async def details(self, media: str, tmdb_id: int, appended: set[str]) -> Answer:
        if tmdb_id == RATE_LIMITED_ID:
            return error(25, {"retry-after": "1"})
        if tmdb_id == BROKEN_ID:
            return error(11)
        if tmdb_id == SLOW_ID:
            await asyncio.sleep(self.slow_s)
            return error(24)
        if tmdb_id == SPARSE_ID:
            return 200, sparse_details(media, appended), {}
        if not FIRST_ID <= tmdb_id < FIRST_ID + self.total_results or tmdb_id in self.gone_ids:
            return error(34)
        return 200, details(media, tmdb_id - FIRST_ID, appended), {}


def _list_row(media: str, index: int, *, trending: bool) -> dict[str, Any]:
    if trending:
        return row(media, index) | {"media_type": media}
    # Only trending TV rows carry `adult`.
    return {k: v for k, v in row(media, index).items() if media == "movie" or k != "adult"}


def _page_body(page: int, rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {
        "page": page,
        "results": rows,
        "total_pages": math.ceil(total / PAGE_SIZE),
        "total_results": total,
    }


def _dates() -> dict[str, Any]:
    today = date.today()
    return {"dates": {"maximum": today.isoformat(), "minimum": (today - timedelta(days=42)).isoformat()}}


def _page(params: dict[str, str]) -> int | None:
    raw = params.get("page", "1")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 500 else None


@contextlib.contextmanager
def start_fake_tmdb(*, total_results: int = REAL_TOTAL_RESULTS, slow_s: float = 1.0) -> Iterator[FakeTmdb]:
    """Serve the fake on 127.0.0.1:<free port>; `.url` ends in /3 like TMDb's base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    fake = FakeTmdb(url=f"http://127.0.0.1:{sock.getsockname()[1]}/3")
    app = FakeTmdbApp(fake, total_results, slow_s)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ws="none", timeout_graceful_shutdown=int(slow_s) + 2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-tmdb", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake TMDb server did not start")
        time.sleep(0.01)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
