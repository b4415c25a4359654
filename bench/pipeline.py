"""Generation pipeline throughput: posts through one `python -m blogworker` process against fake TMDb
and AI servers with a fixed latency, next to the raw bullmq Worker on jobs that only sleep that long.

Run: .venv/bin/python bench/pipeline.py [--posts N] [--latency-ms 200] [--concurrency 50].
Starts and stops its own redis-server, fake servers and worker, with everything in a temp dir.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ heads sys.path and bench/queue.py would shadow the stdlib `queue`; the
# repo root takes its place so `bench.queue` and `tests.fakes` import as packages.
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path.pop(0)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse
import asyncio
import contextlib
import math
import os
import resource
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from bullmq import Job, Worker
from sqlalchemy import func
from sqlmodel import col, select

from bench.queue import enqueue, redis_server, time_worker
from blogqueue import db, runs
from blogqueue.connection import connection_options
from blogqueue.logs import configure_logging
from blogqueue.models import BlogPost, GenerationRun
from blogqueue.queues import QUEUE_NAME
from blogqueue.registry import load_registry
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TitleFilters
from tests.blogworker.pipeline_harness import Pipeline, open_pipeline, pipeline_settings
from tests.conftest import stop_process, worker_env
from tests.fakes.ai_server import start_fake_ai
from tests.fakes.tmdb_server import start_fake_tmdb

MODEL = "gpt-6.2-sol"
LAST_YEAR = 2025  # the fake's release years run 1950-2025
USER_KEY = "sk-proj-BENCHKEY-1234567890"
RUN_TIMEOUT_S = 600.0
TARGET_RATIO = 0.95
TARGET_RSS_MB = 150.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Outcome:
    requested: int
    planned: int
    posts: int
    failed: int
    wall_s: float
    first_post_s: float
    steady_rate: float | None
    cpu_s: float
    peak_rss_mb: float
    ready_rss_mb: float
    bench_cpu_s: float


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (fields 14 and 15, counted after the `comm` field)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int, field: str) -> float:
    """A /proc/<pid>/status memory line: VmHWM is the peak RSS, VmRSS the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def spawn_worker(settings: Settings, ai_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """Its own session, so a Ctrl-C reaches only us and we stop it in order."""
    env = worker_env(
        settings,
        BLOGQUEUE_WORKER_CONCURRENCY=str(settings.worker_concurrency),
        BLOGQUEUE_LOG_LEVEL=settings.log_level,
        BLOGQUEUE_SHUTDOWN_GRACE_S="5",
        TMDB_API_KEY=settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key else "",
        TMDB_BASE_URL=settings.tmdb_base_url,
        OPENAI_BASE_URL=f"{ai_url}/v1",
    )
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "blogworker"], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


async def wait_ready(pipeline: Pipeline, worker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while await pipeline.queue.live_workers() < 1:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log_path.read_text()[-2000:]}")
        await asyncio.sleep(0.05)


def specs(posts: int, shared_list: bool) -> list[RunSpec]:
    """Runs of at most MAX_POSTS_PER_RUN, alternating movies and TV, each on its own release year
    (the fake has ~110 titles a year and media type) unless they all share /popular and race for it."""
    count = math.ceil(posts / runs.MAX_POSTS_PER_RUN)
    sizes = [runs.MAX_POSTS_PER_RUN] * (count - 1) + [posts - runs.MAX_POSTS_PER_RUN * (count - 1)]
    media = (MediaType.MOVIE, MediaType.TV)
    years = [TitleFilters() if shared_list else TitleFilters(year_from=LAST_YEAR - i // 2, year_to=LAST_YEAR - i // 2)
             for i in range(count)]  # fmt: skip
    return [RunSpec(model=MODEL, source=Source.POPULAR, media_type=media[i % 2], count=size, filters=years[i])
            for i, size in enumerate(sizes)]  # fmt: skip


async def measure_pipeline(
    pipeline: Pipeline, spec_list: list[RunSpec], worker: subprocess.Popen[bytes], log_path: Path
) -> Outcome:
    engine = db.create_engine(pipeline.settings)
    sessions = db.session_factory(engine)
    try:
        cpu_before, bench_before = cpu_seconds(worker.pid), self_cpu_seconds()
        ready_rss_mb = memory_mb(worker.pid, "VmRSS")
        started = datetime.now(UTC)
        async with sessions() as session:
            registry = load_registry()
            created = [await runs.create_run(session, pipeline.queue, registry, pipeline.user_id, spec)
                       for spec in spec_list]  # fmt: skip
        ids = [run.id for run in created]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            async with sessions() as session:
                found = (
                    await session.exec(select(GenerationRun).where(col(GenerationRun.id).in_(ids)))
                ).all()
            if all(run.status in runs.FINISHED for run in found):
                break
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"runs unfinished ({[r.status for r in found]}):\n{log_path.read_text()[-2000:]}"
                )
            await asyncio.sleep(0.05)
        cpu_s, bench_cpu_s = cpu_seconds(worker.pid) - cpu_before, self_cpu_seconds() - bench_before
        async with sessions() as session:
            first, last = (
                await session.exec(select(func.min(BlogPost.created_at), func.max(BlogPost.created_at)))
            ).one()
    finally:
        await engine.dispose()
    finished = max(naive(run.finished_at) for run in found if run.finished_at)
    done = sum(run.posts_done for run in found)
    spread = (naive(last) - naive(first)).total_seconds() if first and last else 0.0
    return Outcome(
        requested=sum(run.requested for run in found),
        planned=sum(run.planned for run in found),
        posts=done,
        failed=sum(run.posts_failed for run in found),
        wall_s=(finished - naive(started)).total_seconds(),
        first_post_s=(naive(first) - naive(started)).total_seconds() if first else math.nan,
        steady_rate=(done - 1) / spread if spread > 0 else None,
        cpu_s=cpu_s,
        peak_rss_mb=memory_mb(worker.pid, "VmHWM"),
        ready_rss_mb=ready_rss_mb,
        bench_cpu_s=bench_cpu_s,
    )


def naive(moment: datetime | None) -> datetime:
    """UTC without tzinfo: SQLite hands timestamps back naive."""
    assert moment is not None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


async def measure_baseline(settings: Settings, jobs: int, latency_s: float) -> float:
    """Jobs/s of the raw bullmq Worker on jobs that only sleep for the provider latency."""

    async def sleep(_job: Job, _token: str) -> None:
        await asyncio.sleep(latency_s)

    settings = settings.model_copy(update={"queue_prefix": f"b{uuid.uuid4().hex[:10]}"})
    await enqueue(settings, jobs)
    opts = {"autorun": False, "connection": connection_options(settings), "prefix": settings.queue_prefix,
            "concurrency": settings.worker_concurrency}  # fmt: skip
    return await time_worker(Worker(QUEUE_NAME, sleep, opts), jobs)


def report(out: Outcome, baseline: float, concurrency: int, latency_s: float) -> None:
    ideal = concurrency / latency_s
    rate = out.posts / out.wall_s
    steady = f"{out.steady_rate:.1f} posts/s ({out.steady_rate / ideal:.1%})" if out.steady_rate else "n/a"
    print(
        f"\nposts            {out.posts} written, {out.failed} failed ({out.planned} of {out.requested} planned)"
    )
    print(f"wall time        {out.wall_s:.2f} s (runs created -> last run completed)")
    print(f"first post after {out.first_post_s:.2f} s (planning warm-up)")
    print(f"posts/s          {rate:.1f}  (steady, after the first post: {steady})")
    print(
        f"ideal            {ideal:.0f} posts/s = concurrency {concurrency} / latency {latency_s * 1000:.0f} ms"
    )
    print(f"ratio            {rate / ideal:.1%} of ideal")
    print(
        f"worker CPU       {out.cpu_s * 1000 / max(out.posts, 1):.1f} ms/post ({out.cpu_s / out.wall_s:.0%} of a core)"
    )
    print(f"worker peak RSS  {out.peak_rss_mb:.0f} MB ({out.ready_rss_mb:.0f} MB when ready, before any job)")
    print(
        f"bench process    {out.bench_cpu_s / out.wall_s:.0%} of a core (fake TMDb + fake AI threads, poller)"
    )
    print(f"raw bullmq       {baseline:.1f} jobs/s on sleep-only jobs ({baseline / ideal:.1%} of ideal)\n")
    ratio = rate / ideal
    missed = f"MISSED by {TARGET_RATIO - ratio:.1%} points" if ratio < TARGET_RATIO else "met"
    print(f"throughput >= {TARGET_RATIO:.0%} of ideal: {missed}")
    over = out.peak_rss_mb - TARGET_RSS_MB
    print(f"peak RSS <= {TARGET_RSS_MB:.0f} MB: " + (f"MISSED by {over:.0f} MB" if over > 0 else "met"))


async def bench(
    settings: Settings, ai_url: str, spec_list: list[RunSpec], latency_s: float, log_path: Path
) -> None:
    posts = sum(spec.count for spec in spec_list)
    pipeline = await open_pipeline(settings)
    worker: subprocess.Popen[bytes] | None = None
    try:
        await pipeline.set_key(openai_api_key=USER_KEY)
        print(f"baseline: {posts} sleep-only jobs on the raw bullmq Worker...", file=sys.stderr)
        baseline = await measure_baseline(settings, posts, latency_s)
        worker = spawn_worker(settings, ai_url, log_path)
        await wait_ready(pipeline, worker, log_path)
        print(f"pipeline: {posts} posts through one worker process...", file=sys.stderr)
        outcome = await measure_pipeline(pipeline, spec_list, worker, log_path)
    finally:
        if worker is not None:
            stop_process(worker)
        await pipeline.queue.close()
    report(outcome, baseline, settings.worker_concurrency, latency_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000, help="posts in total (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=200, help="fake AI latency (default 200)")
    parser.add_argument("--concurrency", type=int, default=50, help="worker concurrency (default 50)")
    parser.add_argument("--shared-list", action="store_true",
                        help="every run plans from the same /popular list (they race for titles)")  # fmt: skip
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(redis_server())
        temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pipeline-")))
        tmdb = stack.enter_context(start_fake_tmdb())
        ai = stack.enter_context(start_fake_ai(latency_s=latency_s))
        settings = pipeline_settings(url, temp / "data", tmdb.url, ai.url, worker_concurrency=args.concurrency,
                                     log_level="warning")  # fmt: skip
        configure_logging(settings)
        print(f"redis {url}, fake AI latency {args.latency_ms:.0f} ms, c={args.concurrency}", file=sys.stderr)
        spec_list = specs(args.posts, args.shared_list)
        asyncio.run(bench(settings, ai.url, spec_list, latency_s, temp / "worker.log"))


if __name__ == "__main__":
    main()
