"""HTTP API capacity next to /healthz: starting runs (closed loop, then an open-loop burst), the status
page, the post list and the public blog on a seeded database, and run events over SSE to 100 clients.

Run: .venv/bin/python bench/api.py [--duration S] [--api-workers 1,2] [--skip-seed]. Starts and stops its
own redis-server and API (uvicorn, as `blogqueue up` starts it), with the database in a temp dir. No
worker runs: started runs wait on the queue, as in a burst.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ heads sys.path and bench/queue.py would shadow the stdlib `queue`; the
# repo root takes its place so `bench.queue` imports as a package.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis
from bench import raw_http
from bench.queue import redis_server
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from sqlmodel import col

from blogqueue import db, users
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, GenerationRun, PostStatus, Role, RunMode, RunStatus
from blogqueue.payloads import GenerateRun
from blogqueue.providers import Provider
from blogqueue.queues import QUEUE_NAME, JobName
from blogqueue.run_events import LogLine
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TrendingWindow

CLIENTS = 8
START_CLIENTS = 32  # connections for run starts: several API processes share them out as uvicorn accepts them
REQUEST_TIMEOUT_S = 10.0  # a slower answer counts as a failure, never as a hang
MAX_REQUESTS_PER_CLIENT = 100_000
WARMUP_REQUESTS, WARMUP_S = 16, 1.0
SINGLE_REQUESTS = 50
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
STARTED_LINE = "Application startup complete."  # uvicorn logs it once per worker process
BURST_FACTOR = 2.0
BURST_S = 3.0
BURST_CONNECTIONS = 128  # more than the API keeps in flight (BLOGQUEUE_API_MAX_IN_FLIGHT) per process
MAX_BURST_RATE = 5_000.0
ANSWER_WITHIN_S = 1.0
SETTLE_TIMEOUT_S = 10.0
QUIESCE_TIMEOUT_S, QUIESCE_STEP_S, IDLE_SHARE = 30.0, 0.5, 0.1
SEED_RUNS, SEED_ACTIVE, SEED_POSTS = 1_000, 100, 10_000
SSE_CLIENTS, SSE_EVENTS, SSE_SPACING_S = 100, 50, 0.020
SSE_CONNECT_TIMEOUT_S = 20.0
SSE_DRAIN_S = 5.0
SSE_MARK = "bench-sse "
POLL_S = 0.05
OLD_JOB_MS = 1_600_000_000_000  # finished runs' planning jobs: BullMQ has long removed them
TARGET_CAPACITY = 250.0
TARGET_SCALING = 1.6
TARGET_READ_RATIO = 0.5
TARGET_SSE_P95_MS = 100.0

GENERATE = "/api/admin/blog/auto-generate"
START_BODY = {"source": "popular", "mediaType": "movie", "count": 1, "model": "offline", "mode": "batch"}
ADMIN_EMAIL = "bench@blogqueue.local"
BLOG_POST = f"/blog/bench-title-{SEED_POSTS - 2}"  # the newest published seeded post
POST_BODY = "## What it is\n\n" + "A paragraph about the film, its makers and its reception. " * 60
REFUSED = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})
QUEUED_LISTS, QUEUED_SETS = ("wait", "active", "paused"), ("prioritized", "delayed")

Call = Callable[[], Awaitable[httpx.Response]]


@dataclass
class System:
    settings: Settings
    base_url: str
    api_group: int  # uvicorn's process group: it and its worker processes
    workers: int
    admin_id: int
    password: str


@dataclass
class Load:
    """A closed-loop measurement: 2xx answers per second, with their latencies."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    client_cpu: float = 0.0  # the bench process's share of one core
    api_cpu: float = 0.0  # the API processes' share of one core

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return sum(self.statuses.values()) - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


@dataclass
class Burst:
    rate: float
    sent: int = 0
    send_s: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    bad_5xx: int = 0  # >= 500 and not a 503 with Retry-After
    in_time: int = 0  # any answer within ANSWER_WITHIN_S of its scheduled send


@dataclass
class Integrity:
    runs: int = 0
    runs_without_job: int = 0
    queued_generate: int = 0
    jobs_without_run: int = 0


@dataclass
class Sse:
    connected: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)


@dataclass
class Figures:
    workers: int
    single_ms: float  # /healthz p50 with one client: ~40 ms means Nagle's algorithm holds each answer
    load_average: float  # 1-minute, as the API started: other work on the machine skews every figure
    seeded: bool
    healthz: Load
    status: Load
    posts: Load
    blog: Load  # the public blog's first page, from the API's page cache
    blog_post: Load  # one published post's page
    sse: Sse
    capacity: Load
    burst: Burst
    integrity: Integrity


# -- the system under test --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(redis_url: str, data_dir: Path) -> Settings:
    """Every value the API needs given explicitly, so nothing from the caller's environment leaks in."""
    return Settings(
        _env_file=None, redis_url_env=redis_url, data_dir=data_dir,
        database_url_env=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        queue_prefix=f"bench-{uuid.uuid4().hex[:8]}", encryption_keys=Fernet.generate_key().decode(),
        secret_key=secrets.token_urlsafe(32), log_level="warning", log_format="json",
    )  # fmt: skip


def api_env(settings: Settings) -> dict[str, str]:
    """The API's settings as `blogqueue up` hands them down: through the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOGQUEUE_", "REDIS_", "DATABASE_"))}
    assert settings.encryption_keys is not None and settings.secret_key is not None
    env.update({
        "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url,
        "BLOGQUEUE_DATA_DIR": str(settings.data_dir), "BLOGQUEUE_QUEUE_PREFIX": settings.queue_prefix,
        "BLOGQUEUE_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
        "BLOGQUEUE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "BLOGQUEUE_MAX_ACTIVE_RUNS": "1000000",  # the bench starts runs by the thousand on purpose
        "BLOGQUEUE_LOG_LEVEL": settings.log_level, "BLOGQUEUE_LOG_FORMAT": settings.log_format,
    })  # fmt: skip
    return env


@contextlib.contextmanager
def api_server(settings: Settings, workers: int, log_path: Path) -> Iterator[tuple[str, int]]:
    """uvicorn with the app factory, as the supervisor runs it, in its own session (a Ctrl-C reaches only
    us, and we stop it); cwd is the temp dir so no `.env` is read."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "webapi.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--workers", str(workers)]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, env=api_env(settings), cwd=settings.data_dir, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_api(base_url, workers, process, log_path)
        yield base_url, process.pid
    finally:
        stop_api(process)


def wait_for_api(base_url: str, workers: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Until /healthz answers and every uvicorn worker has said so in the log: one still starting
    would take CPU from the first measurement."""
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        for _ in range(int(STARTUP_TIMEOUT_S / 0.1)):
            if process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                started = log_path.read_text().count(STARTED_LINE)
                if started >= workers and client.get(f"{base_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise SystemExit(f"the API did not start on {base_url}; its log:\n{log_path.read_text()[-2000:]}")


def stop_api(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to uvicorn (it stops its worker processes); its whole session is killed if it lingers."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT_S)


async def create_admin(settings: Settings, password: str) -> int:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, ADMIN_EMAIL, password, Role.ADMIN)
            assert user.id is not None
            return user.id
    finally:
        await engine.dispose()


async def sign_in(client: httpx.AsyncClient, password: str) -> None:
    """A bearer token on every later request of this client."""
    response = await client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": password})
    response.raise_for_status()
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"


# -- load ---------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def group_cpu_seconds(group: int) -> float:
    """utime + stime of every process in a process group, from /proc/<pid>/stat (after `comm`, which
    may hold spaces: pgrp is the 3rd field, utime and stime the 12th and 13th)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def quiesce(group: int) -> None:
    """Wait (bounded) until the API is idle: requests the client gave up on may still be running
    there, and would take CPU from the next measurement."""
    before = group_cpu_seconds(group)
    for _ in range(int(QUIESCE_TIMEOUT_S / QUIESCE_STEP_S)):
        await asyncio.sleep(QUIESCE_STEP_S)
        now = group_cpu_seconds(group)
        if now - before < IDLE_SHARE * QUIESCE_STEP_S:
            return
        before = now


def outcome(response: httpx.Response | BaseException) -> str:
    if isinstance(response, httpx.TimeoutException):
        return "timeout"
    if isinstance(response, BaseException):
        return type(response).__name__
    return str(response.status_code)


async def attempt(call: Call) -> httpx.Response | httpx.HTTPError:
    try:
        return await call()
    except httpx.HTTPError as err:
        return err


async def one_client_ms(call: Call) -> float:
    """p50 latency of SINGLE_REQUESTS requests sent one after another on one connection."""
    latencies = []
    for _ in range(SINGLE_REQUESTS):
        sent = time.perf_counter()
        await attempt(call)
        latencies.append((time.perf_counter() - sent) * 1000)
    return percentile(latencies, 0.5)


async def closed_loop(call: Call, duration_s: float, api_group: int) -> Load:
    """CLIENTS clients, each sending its next request when the last one is answered."""
    await quiesce(api_group)
    warm_until = time.perf_counter() + WARMUP_S
    for _ in range(WARMUP_REQUESTS):
        if time.perf_counter() >= warm_until:
            break
        await attempt(call)
    load = Load()
    started, cpu_before, api_before = time.perf_counter(), cpu_seconds(), group_cpu_seconds(api_group)
    deadline = started + duration_s

    async def client() -> None:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.perf_counter() >= deadline:
                return
            sent = time.perf_counter()
            response = await attempt(call)
            load.statuses[outcome(response)] += 1
            if isinstance(response, httpx.Response) and response.is_success:
                load.latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    load.elapsed_s = time.perf_counter() - started
    load.client_cpu = (cpu_seconds() - cpu_before) / load.elapsed_s
    load.api_cpu = (group_cpu_seconds(api_group) - api_before) / load.elapsed_s
    return load


def start_request(client: httpx.AsyncClient) -> bytes:
    """A run start, as raw bytes for the light client, with the bench's session."""
    headers = {"Authorization": client.headers["Authorization"], "Content-Type": "application/json"}
    return raw_http.encode_request(
        "POST", f"{client.base_url}{GENERATE}/", headers, json.dumps(START_BODY).encode()
    )


async def starts_closed_loop(client: httpx.AsyncClient, duration_s: float, api_group: int) -> Load:
    """As closed_loop, for run starts, sent by the light client (bench/raw_http.py)."""
    request, url, load = start_request(client), str(client.base_url), Load()

    def answered(sent: float, answer: raw_http.Answer | None) -> None:
        load.statuses[str(answer.status) if answer else "timeout"] += 1
        if answer is not None and 200 <= answer.status < 300:
            load.latencies.append(time.perf_counter() - sent)

    await quiesce(api_group)

    def ignored(_sent: float, _answer: raw_http.Answer | None) -> None:
        pass

    await raw_http.closed_loop(
        url,
        request,
        clients=START_CLIENTS,
        duration_s=WARMUP_S,
        timeout_s=REQUEST_TIMEOUT_S,
        on_answer=ignored,
    )
    cpu_before, api_before = cpu_seconds(), group_cpu_seconds(api_group)
    load.elapsed_s = await raw_http.closed_loop(
        url,
        request,
        clients=START_CLIENTS,
        duration_s=duration_s,
        timeout_s=REQUEST_TIMEOUT_S,
        on_answer=answered,
    )
    load.client_cpu = (cpu_seconds() - cpu_before) / load.elapsed_s
    load.api_cpu = (group_cpu_seconds(api_group) - api_before) / load.elapsed_s
    return load


async def burst(client: httpx.AsyncClient, rate: float) -> Burst:
    """Open loop: run starts sent at `rate` for BURST_S whatever the answers, by the light client;
    latency counts from each one's scheduled send."""
    result = Burst(rate=rate)

    def answered(scheduled: float, answer: raw_http.Answer | None) -> None:
        if answer is None:
            result.statuses["unanswered"] += 1
            return
        result.statuses[str(answer.status)] += 1
        shed = answer.status == 503 and answer.retry_after
        result.bad_5xx += answer.status >= 500 and not shed
        result.in_time += time.perf_counter() - scheduled <= ANSWER_WITHIN_S

    result.sent = max(1, int(rate * BURST_S))
    result.send_s = await raw_http.open_loop(
        str(client.base_url), start_request(client), rate=rate, total=result.sent,
        connections=BURST_CONNECTIONS, timeout_s=REQUEST_TIMEOUT_S, on_answer=answered,
    )  # fmt: skip
    return result


# -- seeding and checking the database and queue -------------------------------------------------


def run_rows(user_id: int, first_id: int, plan_ids: list[str]) -> list[dict[str, Any]]:
    """SEED_RUNS runs, the last len(plan_ids) still planning, the others finished long ago."""
    now, finished = datetime.now(UTC), SEED_RUNS - len(plan_ids)
    rows = []
    for i in range(SEED_RUNS):
        active = i >= finished
        created = now - timedelta(minutes=SEED_RUNS - i)
        rows.append({
            "id": first_id + i, "user_id": user_id, "model": "offline", "source": Source.POPULAR,
            "media_type": (MediaType.MOVIE, MediaType.TV)[i % 2], "requested": 12, "filters": {},
            "trending_window": TrendingWindow.WEEK, "mode": RunMode.BATCH,
            "status": RunStatus.PLANNING if active else RunStatus.COMPLETED,
            "plan_job_id": plan_ids[i - finished] if active else f"blog-gen-{user_id}-{OLD_JOB_MS + i}",
            "planned": 0 if active else 12, "posts_done": 0 if active else 11,
            "posts_failed": 0 if active else 1,
            "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "message": "" if active else "done",
            "created_at": created, "finished_at": None if active else created + timedelta(seconds=40),
        })  # fmt: skip
    return rows


def post_rows(user_id: int, first_run_id: int, finished_runs: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for i in range(SEED_POSTS):
        created = now - timedelta(minutes=SEED_POSTS - i)
        published = i % 2 == 0
        rows.append({
            "slug": f"bench-title-{i}", "title": f"Bench Title {i}", "excerpt": "A film worth a look. " * 8,
            "body": POST_BODY, "tags": ["drama", "bench"], "tmdb_id": i + 1,
            "media_type": (MediaType.MOVIE, MediaType.TV)[i % 2], "poster_url": None,
            "source": Source.POPULAR, "model": "offline", "provider": Provider.OFFLINE, "tokens_in": 1_200,
            "tokens_out": 1_400, "cost_usd": 0.0, "incomplete": False, "user_id": user_id,
            "status": PostStatus.PUBLISHED if published else PostStatus.DRAFT,
            "run_id": first_run_id + i % finished_runs, "job_id": f"bench-post-{i}",
            "created_at": created, "updated_at": created, "published_at": created if published else None,
        })  # fmt: skip
    return rows


async def seed(settings: Settings, job_queue: JobQueue, user_id: int) -> None:
    """SEED_RUNS runs and SEED_POSTS posts in two executemany inserts; the active runs' planning jobs
    really wait on the queue, so the status page has queue work to describe."""
    plan_ids = [await job_queue.reserve_job_id(str(user_id)) for _ in range(SEED_ACTIVE)]
    engine = db.create_engine(settings)
    try:
        async with engine.begin() as connection:
            newest = (await connection.execute(select(func.max(col(GenerationRun.id))))).scalar()
            first_id = (newest or 0) + 1
            await connection.execute(insert(GenerationRun), run_rows(user_id, first_id, plan_ids))
            await connection.execute(insert(BlogPost), post_rows(user_id, first_id, SEED_RUNS - SEED_ACTIVE))
    finally:
        await engine.dispose()
    active_ids = range(first_id + SEED_RUNS - SEED_ACTIVE, first_id + SEED_RUNS)
    jobs = [(JobName.GENERATE, GenerateRun(user_id=str(user_id), run_id=run_id), plan_id, None)
            for run_id, plan_id in zip(active_ids, plan_ids, strict=True)]  # fmt: skip
    await job_queue.enqueue_many(jobs)
    for run_id, plan_id in zip(active_ids, plan_ids, strict=True):
        await job_queue.track_run_jobs(user_id, run_id, plan_id)


async def newest_run_id(settings: Settings) -> int:
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as connection:
            newest = (await connection.execute(select(func.max(col(GenerationRun.id))))).scalar()
            return int(newest or 0)
    finally:
        await engine.dispose()


async def settle(settings: Settings) -> None:
    """Wait (bounded) until no run appears for half a second: a request given up on by the client
    may still be running in the API."""
    last = -1
    for _ in range(int(SETTLE_TIMEOUT_S / 0.5)):
        newest = await newest_run_id(settings)
        if newest == last:
            return
        last = newest
        await asyncio.sleep(0.5)


async def run_table(settings: Settings) -> list[tuple[int, RunStatus, str | None]]:
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as connection:
            query = select(col(GenerationRun.id), col(GenerationRun.status), col(GenerationRun.plan_job_id))
            return [(row[0] or 0, row[1], row[2]) for row in await connection.execute(query)]
    finally:
        await engine.dispose()


async def queued_generate_runs(redis: aioredis.Redis, base: str) -> list[int | None]:
    """The runId of every `generate` job not yet finished, read from BullMQ's own lists and hashes."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in QUEUED_LISTS:
            pipe.lrange(f"{base}:{name}", 0, -1)
        for name in QUEUED_SETS:
            pipe.zrange(f"{base}:{name}", 0, -1)
        job_ids = [job_id for ids in await pipe.execute() for job_id in ids]
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(f"{base}:{job_id}", "name", "data")
        found = await pipe.execute()
    return [json.loads(data or "{}").get("runId") for name, data in found if name == JobName.GENERATE]


async def check_integrity(settings: Settings, first_id: int) -> Integrity:
    """Runs created from `first_id` on each have their planning job (or ended refused), and every
    queued planning job has its run: nothing half-created."""
    await settle(settings)
    rows = await run_table(settings)
    base = f"{settings.queue_prefix}:{QUEUE_NAME}"
    checked = [(run_id, job) for run_id, status, job in rows if run_id >= first_id and status not in REFUSED]
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for _, job in checked:
                pipe.exists(f"{base}:{job}")
            exists = await pipe.execute()
        run_ids = await queued_generate_runs(redis, base)
    finally:
        await redis.aclose()
    known = {run_id for run_id, _, _ in rows}
    return Integrity(
        runs=len(checked), runs_without_job=sum(1 for (_, job), there in zip(checked, exists, strict=True)
                                                if not job or not there),
        queued_generate=len(run_ids), jobs_without_run=sum(1 for run_id in run_ids if run_id not in known),
    )  # fmt: skip


# -- server-sent events -------------------------------------------------------------------------


async def sse_listener(
    client: httpx.AsyncClient, connected: list[int], arrivals: dict[int, list[float]]
) -> None:
    """One browser tab on the events endpoint: notes when each bench event arrives."""
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, read=None)  # the stream stays open until cancelled
    async with client.stream("GET", f"{GENERATE}/events", timeout=timeout) as response:
        if response.status_code != 200:
            return
        connected.append(1)
        lines = response.aiter_lines()
        for _ in range(SSE_EVENTS * 10):  # BullMQ's own entries are filtered out by the API
            line = await anext(lines)
            if line.startswith("data:") and SSE_MARK in line:
                message = str(json.loads(line.removeprefix("data:"))["message"])
                arrivals[int(message.removeprefix(SSE_MARK))].append(time.perf_counter())


async def poll(done: Callable[[], bool], timeout_s: float) -> None:
    """Return once `done()` holds, or after about `timeout_s`."""
    for _ in range(int(timeout_s / POLL_S)):
        if done():
            return
        await asyncio.sleep(POLL_S)


async def measure_sse(client: httpx.AsyncClient, job_queue: JobQueue, user_id: int) -> Sse:
    result = Sse(expected=SSE_CLIENTS * SSE_EVENTS)
    connected: list[int] = []
    arrivals: dict[int, list[float]] = {seq: [] for seq in range(SSE_EVENTS)}
    published: list[float] = []
    tasks = [asyncio.create_task(sse_listener(client, connected, arrivals)) for _ in range(SSE_CLIENTS)]
    try:
        await poll(
            lambda: len(connected) == SSE_CLIENTS or all(t.done() for t in tasks), SSE_CONNECT_TIMEOUT_S
        )
        result.connected = len(connected)
        for seq in range(SSE_EVENTS):
            published.append(time.perf_counter())
            await job_queue.publish(LogLine(run_id=1, user_id=str(user_id), message=f"{SSE_MARK}{seq}"))
            await asyncio.sleep(SSE_SPACING_S)
        await poll(lambda: sum(map(len, arrivals.values())) >= result.connected * SSE_EVENTS, SSE_DRAIN_S)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    result.latencies = [at - published[seq] for seq, times in arrivals.items() for at in times]
    return result


# -- one system, all measurements ---------------------------------------------------------------


async def measure_reads(
    client: httpx.AsyncClient, system: System, job_queue: JobQueue, duration_s: float, skip_seed: bool
) -> tuple[Load, Load, Load, Load, Sse]:
    """Status page, post list and the public blog on the seeded database, then run events over SSE."""
    if not skip_seed:
        progress(f"seeding {SEED_RUNS:,} runs ({SEED_ACTIVE} active) and {SEED_POSTS:,} posts")
        await seed(system.settings, job_queue, system.admin_id)
    progress("status")
    status = await closed_loop(lambda: client.get(f"{GENERATE}/status"), duration_s, system.api_group)
    progress("posts list")
    posts = await closed_loop(lambda: client.get("/api/blog/posts"), duration_s, system.api_group)
    progress("public blog")
    blog = await closed_loop(lambda: client.get("/blog"), duration_s, system.api_group)
    blog_post = await closed_loop(lambda: client.get(BLOG_POST), duration_s, system.api_group)
    progress(f"SSE: {SSE_CLIENTS} clients, {SSE_EVENTS} events")
    await quiesce(system.api_group)
    return status, posts, blog, blog_post, await measure_sse(client, job_queue, system.admin_id)


async def measure_starts(
    client: httpx.AsyncClient, system: System, duration_s: float
) -> tuple[Load, Burst, Integrity]:
    """Runs started as fast as START_CLIENTS connections can, then an open-loop burst at twice that,
    then the check."""
    first_id = await newest_run_id(system.settings) + 1
    progress("auto-generate capacity")
    capacity = await starts_closed_loop(client, duration_s, system.api_group)
    rate = min(MAX_BURST_RATE, max(1.0, BURST_FACTOR * capacity.rate))
    progress(f"burst at {rate:.0f} req/s for {BURST_S:.0f} s")
    await quiesce(system.api_group)
    burst_result = await burst(client, rate)
    return capacity, burst_result, await check_integrity(system.settings, first_id)


async def measure_all(system: System, duration_s: float, skip_seed: bool) -> Figures:
    limits = httpx.Limits(max_connections=2_000, max_keepalive_connections=2_000)
    job_queue = JobQueue(system.settings)
    async with httpx.AsyncClient(base_url=system.base_url, limits=limits, timeout=REQUEST_TIMEOUT_S,
                                 trust_env=False) as client:  # fmt: skip
        try:
            load_average = os.getloadavg()[0]
            await sign_in(client, system.password)
            progress("healthz")
            single_ms = await one_client_ms(lambda: client.get("/healthz"))
            healthz = await closed_loop(lambda: client.get("/healthz"), duration_s, system.api_group)
            status, posts, blog, blog_post, sse = await measure_reads(
                client, system, job_queue, duration_s, skip_seed
            )
            capacity, burst_result, integrity = await measure_starts(client, system, duration_s)
        finally:
            await job_queue.close()
    return Figures(workers=system.workers, single_ms=single_ms, load_average=load_average,
                   seeded=not skip_seed, healthz=healthz, status=status, posts=posts, blog=blog,
                   blog_post=blog_post, sse=sse, capacity=capacity, burst=burst_result,
                   integrity=integrity)  # fmt: skip


def progress(what: str) -> None:
    print(f"  {what}...", file=sys.stderr, flush=True)


def run_system(workers: int, duration_s: float, skip_seed: bool) -> Figures:
    with contextlib.ExitStack() as stack:  # unwinds in reverse: API, temp dir, redis
        url = stack.enter_context(redis_server())
        temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        settings = make_settings(url, temp)
        db.migrate(settings)
        password = secrets.token_urlsafe(16)
        admin_id = asyncio.run(create_admin(settings, password))
        print(f"API with {workers} process(es), redis {url}", file=sys.stderr)
        base_url, api_group = stack.enter_context(api_server(settings, workers, temp / "api.log"))
        system = System(settings, base_url, api_group, workers, admin_id, password)
        return asyncio.run(measure_all(system, duration_s, skip_seed))


# -- report -------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def per_s(rate: float) -> str:
    return f"{rate:.1f} req/s" if rate < 10 else f"{rate:.0f} req/s"


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def load_note(load: Load) -> str:
    ms = [value * 1000 for value in load.latencies]
    note = f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms" if ms else "no 2xx answer"
    if load.failed:
        failures = ", ".join(f"{kind} x{n}" for kind, n in load.statuses.items() if not kind.startswith("2"))
        note += f"; {load.failed} failed ({failures})"
    return f"[{note}; CPU: API {load.api_cpu:.0%}, bench client {load.client_cpu:.0%} of a core]"


def relative(label: str, load: Load, healthz: Load) -> str:
    ratio = load.rate / healthz.rate if healthz.rate else 0.0
    return (f"{label}: {per_s(load.rate)} = {ratio:.2f}x healthz (target >= {TARGET_READ_RATIO:.2f}x) "
            f"{verdict(ratio >= TARGET_READ_RATIO)} {load_note(load)}")  # fmt: skip


def report_burst(b: Burst, healthz: Load) -> list[str]:
    answered = sum(n for kind, n in b.statuses.items() if kind.isdigit())
    share = b.in_time / b.sent if b.sent else 0.0
    statuses = ", ".join(f"{kind} x{n}" for kind, n in sorted(b.statuses.items()))
    return [
        f"burst at {b.rate:.0f} req/s (2x capacity) for {BURST_S:.0f} s: {b.sent} sent in {b.send_s:.2f} s, "
        f"{answered} answered ({statuses}) [healthz {healthz.rate:.0f} req/s]",
        f"burst, >= 500 other than 503 with Retry-After: {b.bad_5xx} (target 0) {verdict(b.bad_5xx == 0)}",
        f"burst, answered within {ANSWER_WITHIN_S:.0f} s: {share:.1%} (target 100%) "
        + verdict(b.in_time == b.sent),
    ]


def report_integrity(i: Integrity) -> str:
    met = i.runs_without_job == 0 and i.jobs_without_run == 0
    return (f"nothing half-created: {i.runs_without_job} of {i.runs} new runs without their planning job, "
            f"{i.jobs_without_run} of {i.queued_generate} queued planning jobs without a run "
            + verdict(met))  # fmt: skip


def report_sse(s: Sse, healthz: Load) -> str:
    ms = [value * 1000 for value in s.latencies]
    p95 = percentile(ms, 0.95)
    met = p95 <= TARGET_SSE_P95_MS and len(ms) == s.expected
    spacing, worst = SSE_SPACING_S * 1000, max(ms, default=float("nan"))
    return (f"SSE, {s.connected}/{SSE_CLIENTS} clients, {SSE_EVENTS} events {spacing:.0f} ms apart: "
            f"p50 {percentile(ms, 0.5):.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms, "
            f"{len(ms)}/{s.expected} delivered (target p95 <= {TARGET_SSE_P95_MS:.0f} ms, all delivered) "
            f"{verdict(met)} [healthz {healthz.rate:.0f} req/s]")  # fmt: skip


def report(f: Figures) -> None:
    h, c = f.healthz, f.capacity
    data = f"{SEED_RUNS:,} runs + {SEED_POSTS:,} posts" if f.seeded else "empty database"
    print(f"\n== API with {f.workers} process(es); load average {f.load_average:.1f} as it started ==")
    print(f"healthz, {CLIENTS} clients: {h.rate:.0f} req/s (baseline) {load_note(h)}; "
          f"one client alone: p50 {f.single_ms:.1f} ms")  # fmt: skip
    print(f"auto-generate (offline, count 1), {START_CLIENTS} connections, no worker: {per_s(c.rate)} = "
          f"{c.rate / h.rate if h.rate else 0:.2f}x healthz (target >= {TARGET_CAPACITY:.0f} req/s) "
          f"{verdict(c.rate >= TARGET_CAPACITY)} {load_note(c)}")  # fmt: skip
    for line in report_burst(f.burst, h):
        print(line)
    print(report_integrity(f.integrity))
    print(relative(f"status, {data}", f.status, h))
    print(relative(f"posts list, {data}", f.posts, h))
    print(relative(f"/blog, {data}", f.blog, h))
    print(relative(f"/blog/{{slug}}, {data}", f.blog_post, h))
    print(report_sse(f.sse, h))


def report_scaling(figures: dict[int, Figures]) -> None:
    if 1 in figures and 2 in figures:
        one, two = figures[1].capacity.rate, figures[2].capacity.rate
        ratio = two / one if one else 0.0
        print(f"\nauto-generate scaling: {two:.0f} req/s with 2 processes / {one:.0f} with 1 = {ratio:.2f}x "
              f"(target >= {TARGET_SCALING}x) {verdict(ratio >= TARGET_SCALING)}")  # fmt: skip


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")] if cpuinfo.exists() else []  # fmt: skip
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores ({models[0] if models else platform.machine()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument("--api-workers", default="1", help="API process counts to run, e.g. 1,2 (default 1)")
    parser.add_argument(
        "--skip-seed", action="store_true", help="measure status and posts on an empty database"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.api_workers.split(",")]
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a `kill` cleans up as Ctrl-C does
    now = datetime.now().astimezone()
    print(f"BlogQueue API bench, {now:%Y-%m-%d %H:%M %Z}, {machine()}, Python {platform.python_version()}, "
          f"{args.duration:g} s per measurement, bench client and API on one machine, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    figures: dict[int, Figures] = {}
    for workers in counts:
        figures[workers] = run_system(workers, args.duration, args.skip_seed)
        report(figures[workers])
    report_scaling(figures)


if __name__ == "__main__":
    main()
