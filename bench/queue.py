"""No-op job throughput: the raw bullmq Worker, our runner (QueueWorker + Processor) and Node BullMQ.

Run: .venv/bin/python bench/queue.py [--jobs N] [--runs R]. Starts and stops its own redis-server.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory heads sys.path and this file would shadow the stdlib `queue`.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal, cast, get_args

import redis
import redis.asyncio as aioredis
import structlog
from bullmq import Job, Queue, Worker

from blogqueue.connection import connection_options
from blogqueue.crypto import generate_key
from blogqueue.logs import configure_logging
from blogqueue.payloads import JobPayload
from blogqueue.queues import QUEUE_NAME
from blogqueue.settings import Settings
from blogworker.context import WorkerContext
from blogworker.processor import Handler
from blogworker.runner import WorkerRunner

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "interop" / "node"
NODE_WORKER = ROOT / "bench" / "node_worker.mjs"
CONCURRENCIES = (1, 20)
BULK_SIZE = 1_000
RUN_TIMEOUT_S = 600.0
TARGET_OUR_OVER_RAW = 0.8  # overhead <= 1.25x
STRETCH_OUR_OVER_NODE = 0.5
TARGETS = "Target: our runner's overhead <= 1.25x raw Python; stretch: >= 0.5x Node at c=20"

log = structlog.get_logger("blogworker")
Contender = Callable[[Settings, int], Awaitable[float]]
Results = dict[tuple[str, int], list[float]]
LogLevel = Literal["debug", "info", "warning", "error"]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server without persistence, as in the notes' measurements."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
                "--save", "", "--appendonly", "no"]  # fmt: skip
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_for_ping(port, process)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


def wait_for_ping(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    with redis.Redis(port=port) as client:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)


def make_settings(url: str, concurrency: int, log_level: LogLevel) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, redis_url_env=url, queue_prefix=f"b{uuid.uuid4().hex[:10]}", limiter_max=0,
        worker_concurrency=concurrency, log_level=log_level, encryption_keys=generate_key(),
        data_dir=Path(tempfile.gettempdir()) / "blogqueue-bench",
    )  # fmt: skip


async def enqueue(settings: Settings, jobs: int) -> None:
    queue = Queue(QUEUE_NAME, {"connection": connection_options(settings), "prefix": settings.queue_prefix})
    for start in range(0, jobs, BULK_SIZE):
        count = min(BULK_SIZE, jobs - start)
        await queue.addBulk([{"name": "noop", "data": {}, "opts": {"removeOnComplete": 100}}] * count)
    await queue.close()


async def time_worker(worker: Worker, jobs: int) -> float:
    """Jobs per second from worker.run() until the last job's `completed` event."""
    done = asyncio.Event()
    failures: list[BaseException] = []
    completed = 0

    def on_completed(_job: Job, _result: Any) -> None:
        nonlocal completed
        completed += 1
        if completed == jobs:
            done.set()

    def on_failed(_job: Job, err: BaseException) -> None:
        failures.append(err)
        done.set()

    worker.on("completed", on_completed)
    worker.on("failed", on_failed)
    started = time.perf_counter()
    run_task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(done.wait(), RUN_TIMEOUT_S)
        elapsed = time.perf_counter() - started
    finally:
        await worker.close()
        await asyncio.gather(run_task, return_exceptions=True)
    if failures:
        raise RuntimeError(f"a no-op job failed: {failures[0]!r}")
    return jobs / elapsed


async def run_raw(settings: Settings, jobs: int) -> float:
    async def noop(_job: Job, _token: str) -> None:
        return None

    opts = {"autorun": False, "connection": connection_options(settings), "prefix": settings.queue_prefix,
            "concurrency": settings.worker_concurrency}  # fmt: skip
    return await time_worker(Worker(QUEUE_NAME, noop, opts), jobs)


async def run_ours(settings: Settings, jobs: int) -> float:
    """Our WorkerRunner's worker: its Processor, cancellation lookup and event listeners.
    Left out: the idle cancel-bridge subscription and start-up/shutdown steps."""

    async def noop(_ctx: WorkerContext, _payload: JobPayload) -> None:
        return None

    runner = WorkerRunner(settings, handlers={"noop": Handler(JobPayload, noop)})
    try:
        return await time_worker(runner.worker, jobs)
    finally:
        await runner.services.aclose()


async def run_node(settings: Settings, jobs: int) -> float:
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_WORKER), settings.redis_url, settings.queue_prefix, QUEUE_NAME,
        str(settings.worker_concurrency), str(jobs), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"node worker exited with {process.returncode}")
    return jobs / float(json.loads(stdout)["seconds"])


def node_problem() -> str | None:
    """None when the Node worker can run; otherwise why not."""
    if shutil.which("node") is None:
        return "node not on PATH"
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        if shutil.which("npm") is None or not (NODE_DIR / "package.json").is_file():
            return f"no node_modules in {NODE_DIR} and no npm/package.json to install them"
        result = subprocess.run(["npm", "ci", "--prefix", str(NODE_DIR)], capture_output=True, check=False)
        if result.returncode != 0:
            return "npm ci failed: " + result.stderr.decode(errors="replace").strip()[-200:]
    return None


async def bench(
    url: str, jobs: int, runs: int, contenders: dict[str, Contender], log_level: LogLevel
) -> Results:
    results: Results = defaultdict(list)
    names = list(contenders)
    flusher = aioredis.Redis.from_url(url)
    for run in range(runs):
        for concurrency in CONCURRENCIES:
            shift = run % len(names)  # alternate who goes first from run to run
            for name in names[shift:] + names[:shift]:
                await flusher.flushdb()
                settings = make_settings(url, concurrency, log_level)
                await enqueue(settings, jobs)
                rate = await contenders[name](settings, jobs)
                results[name, concurrency].append(rate)
                print(f"  run {run + 1} c={concurrency} {name}: {rate:.0f} jobs/s", file=sys.stderr)
    await flusher.aclose()
    return results


def report(results: Results, names: list[str], node_note: str | None) -> None:
    medians = {key: statistics.median(rates) for key, rates in results.items()}
    print(f"\n{'implementation':<14} {'c':>3} {'jobs/s median':>14}  runs")
    for concurrency in CONCURRENCIES:
        for name in names:
            runs = ", ".join(f"{rate:.0f}" for rate in results[name, concurrency])
            print(f"{name:<14} {concurrency:>3} {medians[name, concurrency]:>14.0f}  ({runs})")
    if node_note:
        print(f"node: unavailable ({node_note})")
    print()
    for concurrency in CONCURRENCIES:
        ours = medians["ours", concurrency]
        ratio = ours / medians["raw", concurrency]
        verdict = "met" if ratio >= TARGET_OUR_OVER_RAW else "MISSED"
        line = f"c={concurrency:<2} our/raw {ratio:.2f} (overhead {1 / ratio:.2f}x; <= 1.25x {verdict})"
        if ("node", concurrency) in medians:
            node_ratio = ours / medians["node", concurrency]
            line += f"  our/node {node_ratio:.2f}"
            if concurrency == max(CONCURRENCIES):
                line += f" (stretch >= {STRETCH_OUR_OVER_NODE}: "
                line += ("met" if node_ratio >= STRETCH_OUR_OVER_NODE else "missed") + ")"
        print(line)
    print(TARGETS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5_000, help="jobs per run (default 5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per implementation and concurrency")
    parser.add_argument("--log-level", default="warning", choices=get_args(LogLevel),
                        help="our runner's log level; info logs two lines a job to stderr")  # fmt: skip
    args = parser.parse_args()
    log_level = cast(LogLevel, args.log_level)
    contenders: dict[str, Contender] = {"raw": run_raw, "ours": run_ours}
    node_note = node_problem()
    if node_note is None:
        contenders["node"] = run_node
    with redis_server() as url:
        configure_logging(make_settings(url, 1, log_level))
        print(f"{args.jobs} no-op jobs per run, {args.runs} run(s), redis {url}", file=sys.stderr)
        results = asyncio.run(bench(url, args.jobs, args.runs, contenders, log_level))
    report(results, list(contenders), node_note)


if __name__ == "__main__":
    main()
