"""Generation pipeline cost and throughput: posts through `python -m blogworker` processes against
fake TMDb and AI servers with a fixed latency, next to the SDK's own cost and the raw bullmq Worker.

Run: .venv/bin/python bench/pipeline.py [--posts 1000] [--provider openai anthropic gemini offline]
     [--chunk-chars 4] [--latency-ms 200] [--concurrency 50] [--workers 1] [--fresh-workers]
     [--profile DIR] [--timeline]
Starts and stops its own redis-server, fake servers and workers, with everything in a temp dir.
Needs only the project's own packages (the venv `./scripts/up` makes); `--profile` needs py-spy.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ heads sys.path and bench/queue.py would shadow the stdlib `queue`; the
# repo root takes its place so `bench.*` imports as a package.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import contextlib
import os
import signal
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from bench import profile
from bench.queue import enqueue, redis_server, time_worker
from bench.sdk_floor import MODELS, Floor, measure
from bench.workers import Outcome, Workers, bench_settings, run_posts

from blogfakes.ai_server import start_fake_ai
from blogfakes.tmdb_server import API_KEY, start_fake_tmdb
from blogqueue.connection import connection_options
from blogqueue.logs import configure_logging
from blogqueue.queues import QUEUE_NAME
from blogqueue.settings import Settings

PROVIDERS = ("openai", "anthropic", "gemini", "offline")
FLOOR_CALLS = 100
TARGET_CPU_MS_AT_80 = 8.0  # per post, at 80-character chunks
TARGET_OVER_FLOOR = 1.5  # at token-sized chunks: the whole post over the SDK's stream alone
TARGET_RSS_MB = 150.0  # per worker process
# (workers, latency ms) -> share of the ideal rate
TARGET_RATIOS = {(1, 200.0): 0.40, (2, 1000.0): 0.95}


@dataclass(frozen=True)
class Pass:
    provider: str
    outcome: Outcome
    floor: Floor | None


@dataclass(frozen=True)
class Peak:
    providers: list[str]  # what the workers served
    rss_mb: list[float]  # per worker


async def raw_bullmq(settings: Settings, jobs: int, latency_s: float) -> float:
    """Jobs/s of the raw bullmq Worker, in this process, on jobs that only sleep for the provider latency."""
    from bullmq import Job, Worker  # noqa: PLC0415 - only this measurement needs it

    async def sleep(_job: Job, _token: str) -> None:
        await asyncio.sleep(latency_s)

    settings = settings.model_copy(update={"queue_prefix": f"b{uuid.uuid4().hex[:10]}"})
    await enqueue(settings, jobs)
    opts = {"autorun": False, "connection": connection_options(settings), "prefix": settings.queue_prefix,
            "concurrency": settings.worker_concurrency}  # fmt: skip
    return await time_worker(Worker(QUEUE_NAME, sleep, opts), jobs)


def verdict(met: bool, by: str) -> str:
    return "met" if met else f"MISSED by {by}"


def report(passes: list[Pass], args: argparse.Namespace, baseline: float, peaks: list[Peak]) -> None:
    ideal = args.workers * args.concurrency / (args.latency_ms / 1000)
    print(f"\n{args.workers} worker(s) x concurrency {args.concurrency}, fake AI latency "
          f"{args.latency_ms:.0f} ms, {args.chunk_chars}-character deltas; "
          f"ideal {ideal:.0f} posts/s")  # fmt: skip
    print(f"{'provider':<10} {'posts':>6} {'failed':>6} {'posts/s':>8} {'of ideal':>8} {'CPU ms/post':>12} "
          f"{'SDK alone':>10} {'x SDK':>6} {'events':>7}")  # fmt: skip
    for item in passes:
        out, floor = item.outcome, item.floor
        sdk = f"{'-':>10} {'-':>6} {'-':>7}"
        if floor:
            over = out.cpu_ms_per_post / floor.cpu_ms_per_call
            sdk = f"{floor.cpu_ms_per_call:10.2f} {over:6.2f} {floor.events_per_call:7.0f}"
        print(f"{item.provider:<10} {out.posts:>6} {out.failed:>6} {out.rate:>8.1f} {out.rate / ideal:>8.1%} "
              f"{out.cpu_ms_per_post:>12.2f} {sdk}")  # fmt: skip
    for item in passes:  # on a small machine the fakes' share decides how much is left for the workers
        workers, fakes = item.outcome.cores
        print(f"{item.provider}: the workers kept {workers:.2f} cores busy, the fake servers and this bench "
              f"{fakes:.2f} ({item.outcome.fakes_cpu_s * 1000 / max(item.outcome.posts, 1):.1f} ms a post), "
              f"of {os.cpu_count()}")  # fmt: skip
        if item.outcome.timeline is not None:
            print(f"{item.provider}: {item.outcome.timeline.line(args.latency_ms)}")
    print(
        f"raw bullmq on sleep-only jobs, one process: {baseline:.1f} jobs/s "
        f"({baseline / (args.concurrency / (args.latency_ms / 1000)):.1%} of its ideal)"
    )
    for peak in peaks:
        served = ", ".join(peak.providers)
        print(f"peak RSS per worker serving {served}: {', '.join(f'{mb:.0f} MB' for mb in peak.rss_mb)}")
    print()
    for item in passes:
        cpu = item.outcome.cpu_ms_per_post
        if args.chunk_chars == 80 and item.provider != "offline":
            print(
                f"{item.provider}: CPU <= {TARGET_CPU_MS_AT_80:.0f} ms/post at 80-character chunks: "
                + verdict(cpu <= TARGET_CPU_MS_AT_80, f"{cpu - TARGET_CPU_MS_AT_80:.1f} ms")
            )
        if args.chunk_chars <= 8 and item.floor:
            over = cpu / item.floor.cpu_ms_per_call
            print(
                f"{item.provider}: CPU <= {TARGET_OVER_FLOOR}x the SDK alone at token-sized chunks: "
                + verdict(over <= TARGET_OVER_FLOOR, f"{over - TARGET_OVER_FLOOR:.2f}x")
            )
        if (target := TARGET_RATIOS.get((args.workers, args.latency_ms))) is None:
            continue
        ratio = item.outcome.rate / ideal
        if args.chunk_chars >= 80:
            print(
                f"{item.provider}: throughput >= {target:.0%} of ideal: "
                + verdict(ratio >= target, f"{(target - ratio) * 100:.1f} points")
            )
        elif item.floor:  # the throughput targets are set at 80-character deltas
            cores = target * ideal * item.floor.cpu_ms_per_call / 1000
            print(f"{item.provider}: {ratio:.0%} of ideal at token-sized deltas (no target: the SDK "
                  f"alone would take {cores:.1f} cores at {target:.0%} of ideal)")  # fmt: skip
    for peak in peaks:
        most = max(peak.rss_mb)
        print(
            f"peak RSS <= {TARGET_RSS_MB:.0f} MB per worker serving {', '.join(peak.providers)}: "
            + verdict(most <= TARGET_RSS_MB, f"{most - TARGET_RSS_MB:.0f} MB")
        )


async def bench(
    settings: Settings, args: argparse.Namespace, ai_url: str, floor_url: str, temp: Path
) -> None:
    latency_s = args.latency_ms / 1000
    print(f"raw bullmq: {args.posts} sleep-only jobs...", file=sys.stderr)
    baseline = await raw_bullmq(settings, args.posts, latency_s)
    passes: list[Pass] = []
    peaks: list[Peak] = []
    groups = [[p] for p in args.provider] if args.fresh_workers else [list(args.provider)]
    for group in groups:
        spied = args.profile / "-".join(group) if args.profile else None
        if spied:
            spied.mkdir(parents=True, exist_ok=True)
        async with Workers.start(settings, args.workers, ai_url, temp, spied) as workers:
            for provider in group:
                floor = None
                if provider in MODELS:
                    print(f"{provider}: the SDK alone, {FLOOR_CALLS} calls...", file=sys.stderr)
                    floor = await measure(provider, floor_url, FLOOR_CALLS)
                print(f"{provider}: {args.posts} posts...", file=sys.stderr)
                outcome = await run_posts(
                    settings, workers, provider, args.posts, len(passes), timeline=args.timeline
                )
                passes.append(Pass(provider, outcome, floor))
        peaks.append(Peak(group, workers.peak_rss_mb()))
    report(passes, args, baseline, peaks)
    if args.profile:
        cpu_ms = sum(p.outcome.cpu_ms_per_post * p.outcome.posts for p in passes) / sum(
            p.outcome.posts for p in passes
        )
        print(
            "\nwhere the workers' CPU went (py-spy, GIL samples):\n"
            + profile.table(profile.summarize(sorted(args.profile.rglob("worker-*.raw"))), cpu_ms)
        )


@contextlib.contextmanager
def fakes(args: argparse.Namespace) -> Iterator[tuple[str, str, str]]:
    """TMDb, the AI with the bench's latency, and the AI without latency for the SDK-alone calls."""
    with (
        start_fake_tmdb() as tmdb,
        start_fake_ai(latency_s=args.latency_ms / 1000, chunk_chars=args.chunk_chars) as ai,
        start_fake_ai(latency_s=0, chunk_chars=args.chunk_chars) as floor_ai,
    ):
        yield tmdb.url, ai.url, floor_ai.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000, help="posts per provider (default 1000)")
    parser.add_argument("--provider", nargs="+", choices=PROVIDERS, default=["openai"],
                        help="one pass per provider named (default openai)")  # fmt: skip
    parser.add_argument("--chunk-chars", type=int, default=4, help="characters per streamed delta: 4 is "
                        "about a token, as real providers stream (default); 80 for comparison")  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=200, help="fake AI latency (default 200)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrency per worker (default 50)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--fresh-workers", action="store_true", help="new workers for each provider, "
                        "so each peak RSS is of one provider's (default: one set serves all)")  # fmt: skip
    parser.add_argument("--profile", type=Path, help="record py-spy profiles of the workers into this dir")
    parser.add_argument("--timeline", action="store_true", help="follow the queue's events: where the wall "
                        "time went (ramp, steady state, tail), for ~0.05 cores more here")  # fmt: skip
    parser.add_argument("--database-url", help="an empty database to use (default: SQLite in a temp dir)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a `kill` cleans up as Ctrl-C does
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:  # unwinds in reverse: workers (in bench), fakes, temp dir, redis
        url = stack.enter_context(redis_server())
        temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pipeline-")))
        tmdb_url, ai_url, floor_url = stack.enter_context(fakes(args))
        settings = bench_settings(
            url, temp / "data", tmdb_url, API_KEY, ai_url, args.concurrency, args.database_url
        )
        configure_logging(settings)
        print(f"redis {url}; {args.workers} worker(s), c={args.concurrency}", file=sys.stderr)
        asyncio.run(bench(settings, args, ai_url, floor_url, temp))


if __name__ == "__main__":
    main()
