"""Interop with the real Node BullMQ (6.7.0, pinned in tests/interop/node/package-lock.json).

Node and Python share one queue in the session's redis-server. The Node side runs the scripts in
tests/interop/node/ as subprocesses (see conftest.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import jsonschema_rs

from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from tests.conftest import REPO, wait_for
from tests.interop.conftest import RunNode

# A retry may start a little after it is due (one blocking wait); more would mean a stall, or the
# whole-second waits bullmq falls back to when it does not know the server's version.
MAX_RETRY_LATENESS_MS = 150


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
    contract = json.loads((REPO / "contracts" / "jobs" / "selftest.schema.json").read_text())
    jsonschema_rs.validator_for(contract).validate(job.data)  # what Node sent meets the contract
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
