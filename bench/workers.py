"""bench/pipeline.py's moving parts: settings, `python -m blogworker` processes (their CPU, memory
and optional py-spy profiles), and one pass of posts through them, timed."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import sdk_floor
from bench.timeline import Summary, Timeline
from sqlmodel import col, select

from blogqueue import ai_settings, db, runs, users
from blogqueue.ai_settings import AiSettingsUpdate
from blogqueue.crypto import KeyCipher, generate_key
from blogqueue.jobqueue import JobQueue
from blogqueue.models import GenerationRun
from blogqueue.registry import load_registry
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TitleFilters

REPO = Path(__file__).resolve().parent.parent
MODELS = sdk_floor.MODELS | {"offline": "offline"}
USER_KEY = "sk-proj-BENCHKEY-1234567890"
FIRST_YEAR, LAST_YEAR = 1950, 2025  # the fake's release years; ~110 listable titles a year and media type
WARM_UP_POSTS = 10
STALL_TIMEOUT_S = 60.0  # give up when no run has moved for this long (e.g. its plan job failed)


def bench_settings(
    redis_url: str, data_dir: Path, tmdb_url: str, tmdb_key: str, ai_url: str, concurrency: int,
    database_url: str | None = None,
) -> Settings:  # fmt: skip
    return Settings(  # type: ignore[call-arg]
        _env_file=None, redis_url_env=redis_url, data_dir=data_dir, queue_prefix=f"b{uuid.uuid4().hex[:10]}",
        database_url_env=database_url, limiter_max=0, encryption_keys=generate_key(),
        worker_concurrency=concurrency,
        log_level="warning", log_format="json", tmdb_api_key=tmdb_key, tmdb_base_url=tmdb_url,
        openai_base_url=f"{ai_url}/v1", anthropic_base_url=ai_url, gemini_base_url=ai_url,
        provider_timeout_s=30,
    )  # fmt: skip


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a worker process with these settings (and none of ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOGQUEUE_", "REDIS_", "DATABASE_"))}
    keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    tmdb_key = settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key else ""
    return env | {
        "REDIS_URL": settings.redis_url, "BLOGQUEUE_QUEUE_PREFIX": settings.queue_prefix,
        "BLOGQUEUE_DATA_DIR": str(settings.data_dir), "BLOGQUEUE_LIMITER_MAX": str(settings.limiter_max),
        "BLOGQUEUE_LOG_FORMAT": "json", "BLOGQUEUE_LOG_LEVEL": settings.log_level,
        "BLOGQUEUE_ENCRYPTION_KEYS": keys, "BLOGQUEUE_WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "BLOGQUEUE_SHUTDOWN_GRACE_S": "5", "BLOGQUEUE_PROVIDER_TIMEOUT_S": str(settings.provider_timeout_s),
        "TMDB_API_KEY": tmdb_key, "TMDB_BASE_URL": settings.tmdb_base_url,
        "DATABASE_URL": settings.database_url,
        "OPENAI_BASE_URL": settings.openai_base_url or "",
        "ANTHROPIC_BASE_URL": settings.anthropic_base_url or "",
        "GOOGLE_GEMINI_BASE_URL": settings.gemini_base_url or "",
    }  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """utime + stime from /proc/<pid>/stat (fields 14 and 15; `comm` may hold spaces, so split after it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Workers:
    settings: Settings
    processes: list[subprocess.Popen[bytes]]
    log_path: Path
    queue: JobQueue
    peaks: list[float] = field(default_factory=list)

    def cpu_s(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def peak_rss_mb(self) -> list[float]:
        return self.peaks or [peak_rss_mb(process.pid) for process in self.processes]

    def died(self, why: str) -> SystemExit:
        return SystemExit(f"{why}; worker log tail:\n{self.log_path.read_text()[-2000:]}")

    def check_alive(self, why: str) -> None:
        if any(process.poll() is not None for process in self.processes):
            raise self.died(why)

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls, settings: Settings, count: int, ai_url: str, temp: Path, profile_dir: Path | None
    ) -> AsyncIterator[Workers]:
        """Migrate, start `count` workers (each in its own session, so a Ctrl-C reaches only us and we
        stop them before the servers they use), wait until all are ready, and stop them at the end."""
        await asyncio.to_thread(db.migrate, settings)
        log_path = temp / "workers.log"
        processes = [_spawn(worker_env(settings), log_path) for _ in range(count)]
        workers = cls(settings, processes, log_path, JobQueue(settings))
        spies: list[subprocess.Popen[bytes]] = []
        try:
            deadline = time.monotonic() + 60
            while await workers.queue.live_workers() < count:
                workers.check_alive("a worker did not start")
                if time.monotonic() > deadline:
                    raise workers.died("the workers did not start")
                await asyncio.sleep(0.05)
            if profile_dir is not None:  # attached once ready: imports are start-up, not a post's cost
                spies = [
                    _spy(process.pid, profile_dir / f"worker-{i}.raw") for i, process in enumerate(processes)
                ]
            yield workers
            workers.peaks = workers.peak_rss_mb()
        finally:
            for spy in spies:
                stop(spy, signal.SIGINT)  # py-spy writes its file on SIGINT
            for process in processes:
                stop(process)
            await workers.queue.close()


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "blogworker"], env=env, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--gil",
        "--nonblocking",
        "--rate",
        "100",
        "--format",
        "raw",
        "-o",
        str(out),
    ]
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@dataclass(frozen=True)
class Outcome:
    posts: int
    failed: int
    wall_s: float
    cpu_s: float  # the workers'
    fakes_cpu_s: float  # this process's: the fake servers' threads and the polling
    timeline: Summary | None

    @property
    def rate(self) -> float:
        return self.posts / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def cpu_ms_per_post(self) -> float:
        return self.cpu_s * 1000 / max(self.posts, 1)

    @property
    def cores(self) -> tuple[float, float]:
        """Cores the workers and the fakes kept busy over the pass."""
        return self.cpu_s / self.wall_s, self.fakes_cpu_s / self.wall_s


def specs(provider: str, posts: int, index: int) -> list[RunSpec]:
    """Runs of at most MAX_POSTS_PER_RUN, alternating movies and TV, each planning from a release
    year of its own (pass `index` takes the next years), so every post is about a new title."""
    count = math.ceil(posts / runs.MAX_POSTS_PER_RUN)
    sizes = [runs.MAX_POSTS_PER_RUN] * (count - 1) + [posts - runs.MAX_POSTS_PER_RUN * (count - 1)]
    years = [LAST_YEAR - (index * count + i) // 2 for i in range(count)]
    media = (MediaType.MOVIE, MediaType.TV)
    return [RunSpec(model=MODELS[provider], source=Source.POPULAR, media_type=media[i % 2], count=n,
                    filters=TitleFilters(year_from=years[i], year_to=years[i]))
            for i, n in enumerate(sizes)]  # fmt: skip


def warm_up_specs(provider: str, index: int) -> list[RunSpec]:
    """A few posts of each media type (the fake TMDb works out each one's rows on first use) from
    the fake's first years, which the timed passes (from LAST_YEAR down) never reach."""
    year = FIRST_YEAR + index
    return [RunSpec(model=MODELS[provider], source=Source.POPULAR, media_type=media, count=WARM_UP_POSTS // 2,
                    filters=TitleFilters(year_from=year, year_to=year))
            for media in (MediaType.MOVIE, MediaType.TV)]  # fmt: skip


async def run_posts(
    settings: Settings, workers: Workers, provider: str, posts: int, index: int, *, timeline: bool = False
) -> Outcome:
    """A user with a key for `provider` asks for `posts` posts; CPU of the workers and wall time from
    the runs' creation until the last one finished; with `timeline`, where that time went."""
    engine = db.create_engine(settings)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            user = await users.create_user(session, f"bench-{provider}@example.com", "password-bench")
            if provider != "offline":
                update = AiSettingsUpdate(**{f"{provider}_api_key": USER_KEY})
                cipher = KeyCipher.from_settings(settings)
                await ai_settings.update_ai_settings(session, cipher, load_registry(), user, update)
        # Not timed: the first posts of a provider import its SDK and open its connections.
        await _run_specs(sessions, workers, user.id or 0, warm_up_specs(provider, index))
        async with Timeline.follow(settings) if timeline else contextlib.nullcontext() as followed:
            cpu_before, fakes_before, started = workers.cpu_s(), time.process_time(), datetime.now(UTC)
            found = await _run_specs(sessions, workers, user.id or 0, specs(provider, posts, index))
            cpu_s, fakes_cpu_s = workers.cpu_s() - cpu_before, time.process_time() - fakes_before
    finally:
        await engine.dispose()
    finished = max(_utc(run.finished_at) for run in found if run.finished_at)
    slots = len(workers.processes) * settings.worker_concurrency
    summary = followed.summary(slots) if followed is not None else None
    return Outcome(posts=sum(run.posts_done for run in found), failed=sum(run.posts_failed for run in found),
                   wall_s=(finished - started).total_seconds(), cpu_s=cpu_s, fakes_cpu_s=fakes_cpu_s,
                   timeline=summary)  # fmt: skip


async def _run_specs(
    sessions: Any, workers: Workers, user_id: int, spec_list: Sequence[RunSpec]
) -> list[GenerationRun]:
    async with sessions() as session:
        ids = [(await runs.create_run(session, workers.queue, user_id, spec)).id for spec in spec_list]
    return await _wait_finished(sessions, workers, [i for i in ids if i is not None])


async def _wait_finished(sessions: Any, workers: Workers, ids: Sequence[int]) -> list[GenerationRun]:
    in_runs, progress, moved = col(GenerationRun.id).in_(ids), "", time.monotonic()
    while True:
        async with sessions() as session:
            found = list((await session.exec(select(GenerationRun).where(in_runs))).all())
        if all(run.status in runs.FINISHED for run in found):
            return found
        if (now := str([(r.status, r.posts_done + r.posts_failed) for r in found])) != progress:
            progress, moved = now, time.monotonic()
        workers.check_alive("a worker died")
        if time.monotonic() - moved > STALL_TIMEOUT_S:
            raise workers.died(f"runs stuck at (status, posts finished) {progress}")
        await asyncio.sleep(0.05)


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive (in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
