"""Generation pipeline throughput: posts through one `python -m blogworker` process against fake TMDb
and AI servers with a fixed latency, next to the raw bullmq Worker on jobs that only sleep that long.

Run: .venv/bin/python bench/pipeline.py [--posts N] [--latency-ms 200] [--concurrency 50] [--shared-list].
Starts and stops its own redis-server, fake servers and worker, with everything in a temp dir.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ heads sys.path and bench/queue.py would shadow the stdlib `queue`; the
# repo root takes its place so `bench.queue` and `blogfakes` import as packages.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import contextlib
import math
import os
import resource
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.queue import enqueue, redis_server, time_worker
from bullmq import Job, Worker
from sqlalchemy import func
from sqlmodel import col, select
from tests.blogworker.pipeline_harness import Pipeline, open_pipeline, pipeline_settings
from tests.conftest import REPO, stop_process, worker_env
from blogfakes.ai_server import start_fake_ai
from blogfakes.tmdb_server import start_fake_tmdb

from blogqueue import db, runs
from blogqueue.connection import connection_options
from blogqueue.logs import configure_logging
from blogqueue.models import BlogPost, GenerationRun
from blogqueue.queues import QUEUE_NAME
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TitleFilters

MODEL = "gpt-6.2-sol"
USER_KEY = "sk-proj-BENCHKEY-1234567890"
LAST_YEAR = 2025  # the fake's release years run 1950-2025, ~110 listable titles a year and media type
STALL_TIMEOUT_S = 60.0  # give up when no run has moved for this long (e.g. its plan job failed)
TARGET_RATIO = 0.95
TARGET_RSS_MB = 150.0


@dataclass
class Outcome:
    requested: int
    planned: int
    posts: int
    failed: int
    wall_s: float
    first_post_s: float
    steady_rate: float
    cpu_s: float
    ready_rss_mb: float
    peak_rss_mb: float
    bench_cpu_s: float


def cpu_seconds(pid: int) -> float:
    """utime + stime from /proc/<pid>/stat (fields 14 and 15; `comm` may hold spaces, so split after it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str) -> float:
    """A /proc/<pid>/status line: VmHWM is the peak RSS, VmRSS the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def naive(moment: datetime) -> datetime:
    """UTC without tzinfo: SQLite hands timestamps back naive."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def worker_died(log_path: Path, why: str) -> SystemExit:
    return SystemExit(f"{why}; worker log tail:\n{log_path.read_text()[-2000:]}")


def spawn_worker(settings: Settings, ai_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """In its own session, so a Ctrl-C reaches only us and we stop it before the servers it uses."""
    tmdb_key = settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key else ""
    env = worker_env(settings, BLOGQUEUE_WORKER_CONCURRENCY=str(settings.worker_concurrency),
                     BLOGQUEUE_LOG_LEVEL=settings.log_level, BLOGQUEUE_SHUTDOWN_GRACE_S="5",
                     TMDB_API_KEY=tmdb_key, TMDB_BASE_URL=settings.tmdb_base_url,
                     OPENAI_BASE_URL=f"{ai_url}/v1")  # fmt: skip
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "blogworker"], env=env, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


async def wait_ready(pipeline: Pipeline, worker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while await pipeline.queue.live_workers() < 1:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise worker_died(log_path, "the worker did not start")
        await asyncio.sleep(0.05)


def specs(posts: int, shared_list: bool) -> list[RunSpec]:
    """Runs of at most MAX_POSTS_PER_RUN, alternating movies and TV, each planning from its own release
    year so N posts are really planned; with `shared_list` all plan from /popular and race for titles."""
    count = math.ceil(posts / runs.MAX_POSTS_PER_RUN)
    sizes = [runs.MAX_POSTS_PER_RUN] * (count - 1) + [posts - runs.MAX_POSTS_PER_RUN * (count - 1)]
    years = [LAST_YEAR - i // 2 for i in range(count)]
    filters = [TitleFilters() if shared_list else TitleFilters(year_from=y, year_to=y) for y in years]
    media = (MediaType.MOVIE, MediaType.TV)
    return [RunSpec(model=MODEL, source=Source.POPULAR, media_type=media[i % 2], count=n, filters=filters[i])
            for i, n in enumerate(sizes)]  # fmt: skip


async def run_until_finished(
    pipeline: Pipeline, spec_list: Sequence[RunSpec], worker: subprocess.Popen[bytes], log_path: Path
) -> tuple[datetime, list[GenerationRun], tuple[datetime | None, datetime | None]]:
    """Create the runs, poll until every one is finished; the start time, the runs, first and last post."""
    engine = db.create_engine(pipeline.settings)
    sessions = db.session_factory(engine)
    try:
        started = datetime.now(UTC)
        async with sessions() as session:
            ids = [(await runs.create_run(session, pipeline.queue, pipeline.user_id, spec)).id
                   for spec in spec_list]  # fmt: skip
        in_runs, progress, moved = col(GenerationRun.id).in_(ids), "", time.monotonic()
        while True:
            async with sessions() as session:
                found = list((await session.exec(select(GenerationRun).where(in_runs))).all())
            if all(run.status in runs.FINISHED for run in found):
                break
            if (now := str([(r.status, r.posts_done + r.posts_failed) for r in found])) != progress:
                progress, moved = now, time.monotonic()
            if worker.poll() is not None or time.monotonic() - moved > STALL_TIMEOUT_S:
                raise worker_died(log_path, f"runs stuck at (status, posts finished) {progress}")
            await asyncio.sleep(0.05)
        async with sessions() as session:
            created = col(BlogPost.created_at)
            span = (await session.exec(select(func.min(created), func.max(created)))).one()
        return started, found, span
    finally:
        await engine.dispose()


async def measure_pipeline(
    pipeline: Pipeline, spec_list: Sequence[RunSpec], worker: subprocess.Popen[bytes], log_path: Path
) -> Outcome:
    cpu_before, bench_before = cpu_seconds(worker.pid), self_cpu_seconds()
    ready_rss_mb = memory_mb(worker.pid, "VmRSS")
    started, found, (first, last) = await run_until_finished(pipeline, spec_list, worker, log_path)
    cpu_s, bench_cpu_s = cpu_seconds(worker.pid) - cpu_before, self_cpu_seconds() - bench_before
    done = sum(run.posts_done for run in found)
    finished = max(naive(run.finished_at) for run in found if run.finished_at)
    first_post_s = (naive(first) - naive(started)).total_seconds() if first else math.nan
    spread = (naive(last) - naive(first)).total_seconds() if first and last else 0.0
    return Outcome(
        requested=sum(run.requested for run in found), planned=sum(run.planned for run in found), posts=done,
        failed=sum(run.posts_failed for run in found), wall_s=(finished - naive(started)).total_seconds(),
        first_post_s=first_post_s, steady_rate=(done - 1) / spread if spread > 0 else math.nan, cpu_s=cpu_s,
        ready_rss_mb=ready_rss_mb, peak_rss_mb=memory_mb(worker.pid, "VmHWM"), bench_cpu_s=bench_cpu_s,
    )  # fmt: skip


async def measure_baseline(settings: Settings, jobs: int, latency_s: float) -> float:
    """Jobs/s of the raw bullmq Worker, in this process, on jobs that only sleep for the provider latency."""

    async def sleep(_job: Job, _token: str) -> None:
        await asyncio.sleep(latency_s)

    settings = settings.model_copy(update={"queue_prefix": f"b{uuid.uuid4().hex[:10]}"})
    await enqueue(settings, jobs)
    opts = {"autorun": False, "connection": connection_options(settings), "prefix": settings.queue_prefix,
            "concurrency": settings.worker_concurrency}  # fmt: skip
    return await time_worker(Worker(QUEUE_NAME, sleep, opts), jobs)


def report(out: Outcome, baseline: float, concurrency: int, latency_s: float) -> None:
    ideal = concurrency / latency_s
    rate, cpu_ms = out.posts / out.wall_s, out.cpu_s * 1000 / max(out.posts, 1)
    rows = {
        "posts": f"{out.posts} written, {out.failed} failed ({out.planned} of {out.requested} planned)",
        "wall time": f"{out.wall_s:.2f} s (runs created -> last run completed)",
        "first post": f"after {out.first_post_s:.2f} s (planning warm-up)",
        "posts/s": f"{rate:.1f}  (steady, from the first post on: {out.steady_rate:.1f})",
        "ideal": f"{ideal:.0f} posts/s = concurrency {concurrency} / latency {latency_s * 1000:.0f} ms",
        "ratio": f"{rate / ideal:.1%} of ideal  (steady: {out.steady_rate / ideal:.1%})",
        "worker CPU": f"{cpu_ms:.1f} ms/post, {out.cpu_s / out.wall_s:.0%} of a core",
        "worker RSS": f"{out.peak_rss_mb:.0f} MB peak ({out.ready_rss_mb:.0f} MB when ready, before any job)",
        "bench process": f"{out.bench_cpu_s / out.wall_s:.0%} of a core (fake TMDb and AI threads, poller)",
        "raw bullmq": f"{baseline:.1f} jobs/s on sleep-only jobs ({baseline / ideal:.1%} of ideal)",
    }  # fmt: skip
    print()
    for label, value in rows.items():
        print(f"{label:<14} {value}")
    ratio, over = rate / ideal, out.peak_rss_mb - TARGET_RSS_MB
    short = f"MISSED by {(TARGET_RATIO - ratio) * 100:.1f} points" if ratio < TARGET_RATIO else "met"
    print(f"\nthroughput >= {TARGET_RATIO:.0%} of ideal: {short}")
    print(f"peak RSS <= {TARGET_RSS_MB:.0f} MB: " + (f"MISSED by {over:.0f} MB" if over > 0 else "met"))


async def bench(
    settings: Settings, ai_url: str, spec_list: Sequence[RunSpec], latency_s: float, log_path: Path
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
        print(f"pipeline: {posts} posts in {len(spec_list)} runs, one worker process...", file=sys.stderr)
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
    parser.add_argument("--shared-list", action="store_true", help="all runs race for titles on /popular")
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a `kill` cleans up as Ctrl-C does
    with contextlib.ExitStack() as stack:  # unwinds in reverse: worker (in bench), fakes, temp dir, redis
        url = stack.enter_context(redis_server())
        temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pipeline-")))
        tmdb = stack.enter_context(start_fake_tmdb())
        ai = stack.enter_context(start_fake_ai(latency_s=latency_s))
        settings = pipeline_settings(url, temp / "data", tmdb.url, ai.url,
                                     worker_concurrency=args.concurrency, log_level="warning")  # fmt: skip
        configure_logging(settings)
        print(f"redis {url}, fake AI latency {args.latency_ms:.0f} ms, c={args.concurrency}", file=sys.stderr)
        spec_list = specs(args.posts, args.shared_list)
        asyncio.run(bench(settings, ai.url, spec_list, latency_s, temp / "worker.log"))


if __name__ == "__main__":
    main()
