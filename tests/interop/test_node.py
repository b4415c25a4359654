"""Interop with the real Node BullMQ (6.7.0, pinned in tests/interop/node/package-lock.json).

Node and Python share one queue in the session's redis-server. The Node side runs the scripts in
tests/interop/node/ as subprocesses; each prints one JSON object per line, which `NodeScript`
collects. Nothing here is skipped: a missing `node` or `node_modules` fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, cast

import pytest

from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import QUEUE_NAME, JobName
from blogqueue.settings import Settings
from tests.conftest import wait_for

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_PACKAGES = {"bullmq": "6.7.0", "ioredis": "6.0.0"}
SCRIPT_TIMEOUT_MS = 45_000  # each script exits by itself (code 3) after this long
STDOUT_LINE_LIMIT = 4 * 1024 * 1024
# A retry may start a little after it is due (one blocking wait); more would mean a stall, or the
# whole-second waits bullmq falls back to when it does not know the server's version.
MAX_RETRY_LATENESS_MS = 150


class NodeScript:
    """One running `node <script>`: its stdout parsed as JSON lines, its stderr kept for errors."""

    def __init__(self, script: str, process: asyncio.subprocess.Process) -> None:
        self.script = script
        self.process = process
        self.lines: list[dict[str, Any]] = []
        self.stderr = bytearray()
        self._update = asyncio.Event()
        self._stdout_done = False
        self._readers = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._read_stderr())]

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            text = raw.decode(errors="replace").strip()
            if text:
                try:
                    line = json.loads(text)
                except json.JSONDecodeError:
                    line = {"event": "unparsed", "text": text}
                self.lines.append(line if isinstance(line, dict) else {"event": "unparsed", "text": text})
                self._update.set()
        self._stdout_done = True
        self._update.set()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self.stderr.extend(chunk)

    def events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        """Lines with this `event` whose fields equal `match`."""
        return [
            line
            for line in self.lines
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items())
        ]

    async def wait_event(self, event: str, timeout: float, **match: Any) -> dict[str, Any]:
        """The first line with this `event` (and fields), waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if found := self.events(event, **match):
                return found[0]
            if self._stdout_done:
                self.fail(f"exited (code {self.process.returncode}) without printing {event!r} {match}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"printed no {event!r} {match} within {timeout} s")
            self._update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update.wait(), timeout=remaining)

    async def finish(self, timeout: float) -> None:
        """Wait for a clean exit (code 0)."""
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=timeout)
        except TimeoutError:
            self.fail(f"did not exit within {timeout} s")
        await asyncio.gather(*self._readers)
        if code != 0:
            self.fail(f"exited with code {code}")

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def fail(self, message: str) -> NoReturn:
        stdout = "\n".join(json.dumps(line) for line in self.lines[-40:])
        stderr = self.stderr.decode(errors="replace")[-4000:]
        pytest.fail(f"node {self.script}: {message}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")


RunNode = Callable[[str, dict[str, Any]], Awaitable[NodeScript]]


@pytest.fixture(scope="session")
def node_binary() -> str:
    """`node`, with the pinned packages installed by `npm ci --prefix tests/interop/node`."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: install Node 20 to run the Node BullMQ interop tests")
    for package, version in NODE_PACKAGES.items():
        manifest = NODE_DIR / "node_modules" / package / "package.json"
        if not manifest.is_file():
            pytest.fail(f"{manifest} is missing: run `npm ci --prefix tests/interop/node` first")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            pytest.fail(f"{package} {installed} is installed but {version} is pinned: run `npm ci` again")
    return node


@pytest.fixture
async def run_node(node_binary: str, settings: Settings) -> AsyncIterator[RunNode]:
    """Start a script from tests/interop/node against this test's queue; all are killed at the end."""
    started: list[NodeScript] = []
    env = {
        **os.environ,
        "BQ_REDIS_URL": settings.redis_url,
        "BQ_PREFIX": settings.queue_prefix,
        "BQ_QUEUE": QUEUE_NAME,
    }

    async def run(script: str, spec: dict[str, Any]) -> NodeScript:
        process = await asyncio.create_subprocess_exec(
            node_binary, str(NODE_DIR / script), json.dumps({"timeoutMs": SCRIPT_TIMEOUT_MS, **spec}),
            cwd=NODE_DIR, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=STDOUT_LINE_LIMIT,
        )  # fmt: skip
        started.append(NodeScript(script, process))
        return started[-1]

    yield run
    for script in started:
        await script.kill()


async def job_timeline(job_queue: JobQueue, job_id: str) -> list[tuple[int, dict[str, str]]]:
    """The job's entries in the queue's event stream, as (server epoch ms, fields)."""
    stream = job_queue._queue.toKey("events")
    entries = cast("list[tuple[str, dict[str, str]]]", await job_queue._redis.xrange(stream))
    return [(int(entry_id.split("-")[0]), f) for entry_id, f in entries if f.get("jobId") == job_id]


def unique_id(label: str) -> str:
    return f"interop-{label}-{uuid.uuid4().hex[:12]}"


async def test_node_producer_python_worker(
    settings: Settings, job_queue: JobQueue, start_worker: Any, run_node: RunNode
) -> None:
    """(a) Node adds a delayed, prioritized selftest job; the Python worker runs it; Node's
    QueueEvents sees its progress and the Python return value."""
    job_id = unique_id("a")
    opts = {
        "jobId": job_id,
        "attempts": 3,
        "backoff": {"type": "exponential", "delay": 500},
        "priority": 5,
        "delay": 1000,
    }
    data = {"version": 1, "userId": "system", "note": "from node ünï 😀"}
    start_worker(settings)
    producer = await run_node(
        "producer.mjs", {"name": JobName.SELFTEST.value, "data": data, "opts": opts, "watch": True}
    )
    added = await producer.wait_event("added", timeout=20)
    assert added["id"] == job_id
    finished = await producer.wait_event("finished", timeout=30)
    assert finished["type"] == "completed", finished
    await producer.finish(timeout=10)

    seen = [line for line in producer.events("queue-event") if line["jobId"] == job_id]
    types = [line["type"] for line in seen]
    assert types.index("delayed") < types.index("active") < types.index("completed"), types
    assert [line["args"]["data"] for line in seen if line["type"] == "progress"] == [50, 100]
    (node_completed,) = (line["args"] for line in seen if line["type"] == "completed")

    job = await job_queue._queue.getJob(job_id)
    assert job is not None
    assert await job.getState() == "completed"
    assert job.returnvalue["ok"] is True
    assert job.returnvalue["attempt"] == 1
    assert job.returnvalue["note"] == data["note"]
    assert node_completed["returnvalue"] == job.returnvalue
    assert job.data == data
    assert job.opts == added["opts"]
    assert {key: job.opts.get(key) for key in opts} == opts
    assert (job.priority, job.attemptsMade) == (5, 1)
    assert job.timestamp == added["timestamp"]
    assert job.processedOn - job.timestamp >= 1000, "the 1000 ms delay was not honoured"


async def test_python_producer_node_worker(job_queue: JobQueue, run_node: RunNode) -> None:
    """(b) JobQueue.enqueue adds a selftest job; a Node worker runs it; its return value,
    progress and logs are readable from Python."""
    worker = await run_node("worker.mjs", {"exitAfter": 1})
    await worker.wait_event("ready", timeout=20)
    job_id = await job_queue.enqueue(JobName.SELFTEST, SelfTest(sleep_ms=200, note="from python"))
    completed = await worker.wait_event("completed", timeout=30, id=job_id)
    assert completed["returnvalue"] == {"ok": True, "by": "node"}
    await worker.finish(timeout=15)
    assert [line["progress"] for line in worker.events("progress", id=job_id)] == [50, 100]
    assert worker.events("failed") == []

    summary = await job_queue.get_job(job_id)
    assert (summary.state, summary.attempts_made, summary.progress) == ("completed", 1, 100)
    assert summary.finished_on is not None
    assert summary.processed_on is not None
    assert summary.finished_on - summary.processed_on >= 200, "the Node handler did not sleep sleepMs"
    job = await job_queue._queue.getJob(job_id)
    assert job is not None
    assert job.returnvalue == {"ok": True, "by": "node"}
    assert await job_queue._queue.getJobLogs(job_id) == {
        "logs": ["node selftest attempt 1", "node selftest done after 200 ms"],
        "count": 2,
    }


async def test_failing_job_retries_with_exponential_backoff(
    settings: Settings, job_queue: JobQueue, start_worker: Any, run_node: RunNode
) -> None:
    """(c) A selftest that always fails is retried by the Python worker with exponential backoff
    and ends failed after 3 attempts; Node's Job.fromId sees the same state and counts."""
    job_id = await job_queue.enqueue(
        JobName.SELFTEST,
        SelfTest(fail_attempts=99, note="always fails"),
        EnqueueOptions(attempts=3, backoff_ms=200),
    )
    start_worker(settings)

    async def failed_for_good() -> bool:
        return (await job_queue.get_job(job_id)).state == "failed"

    await wait_for(failed_for_good, timeout=30)
    summary = await job_queue.get_job(job_id)
    assert summary.attempts_made == 3
    assert summary.failed_reason == "selftest failing attempt 3 of 99"
    expected_logs = ["selftest attempt 1", "selftest attempt 2", "selftest attempt 3"]
    assert await job_queue._queue.getJobLogs(job_id) == {"logs": expected_logs, "count": 3}

    inspect = await run_node("inspect.mjs", {"jobId": job_id})
    node_view = await inspect.wait_event("job", timeout=20)
    await inspect.finish(timeout=10)
    assert node_view["state"] == summary.state == "failed"
    assert node_view["attemptsMade"] == summary.attempts_made == 3
    assert node_view["attemptsStarted"] == 3
    assert node_view["failedReason"] == summary.failed_reason
    assert node_view["logs"] == expected_logs
    assert node_view["opts"]["attempts"] == 3
    assert node_view["opts"]["backoff"] == {"type": "exponential", "delay": 200}

    # The event stream (Redis server clock in each entry id) shows when each retry was due and ran.
    # Every failed attempt but the last adds a `delayed` event whose `delay` field is the due time:
    # the backoff it scheduled must double, and the next attempt must start promptly once it is due,
    # so the observed gaps between attempts grow as well.
    timeline = await job_timeline(job_queue, job_id)
    events = [fields["event"] for _, fields in timeline]
    assert events.count("active") == 3, events
    assert events.count("failed") == 1, events
    assert events.index("failed") > max(i for i, event in enumerate(events) if event == "active"), events
    retries: list[tuple[int, int]] = []  # (scheduled backoff, start - due), in ms
    for index, (ms, fields) in enumerate(timeline):
        if fields["event"] == "delayed":
            due = int(fields["delay"])
            started = next(later for later, f in timeline[index + 1 :] if f["event"] == "active")
            retries.append((due - ms, started - due))
    assert len(retries) == 2, timeline
    for (scheduled, late), expected in zip(retries, [200, 400], strict=True):
        assert expected - 100 <= scheduled <= expected + 5, f"backoff should be ~{expected} ms: {retries}"
        assert -2 <= late <= MAX_RETRY_LATENESS_MS, f"retry ran {late} ms after it was due: {retries}"
    starts = [ms for ms, fields in timeline if fields["event"] == "active"]
    assert starts[2] - starts[1] > starts[1] - starts[0], f"gaps should grow: {starts}"
