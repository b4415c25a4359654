import asyncio
import base64
import re

import pytest

from blogqueue.connection import redis_client
from blogqueue.errors import InvalidJob, NotFound
from blogqueue.job_admin import list_jobs
from blogqueue.jobqueue import CancelOutcome, EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import QUEUE_NAME, JobName, JobState
from blogqueue.settings import Settings


async def test_enqueue_uses_the_seed_id_form_and_default_options(job_queue: JobQueue) -> None:
    job_id = await job_queue.enqueue(JobName.SELFTEST, SelfTest(user_id="user123"))
    assert re.fullmatch(r"blog-gen-user123-\d{13}", job_id)
    job = await job_queue._queue.getJob(job_id)
    assert job.name == "selftest"
    assert job.data["userId"] == "user123"
    assert job.opts["attempts"] == 3
    assert job.opts["backoff"] == {"type": "exponential", "delay": 1000}
    assert job.opts["removeOnComplete"] == 100
    assert job.opts["removeOnFail"] is False


async def test_ids_stay_unique_when_a_user_enqueues_many_in_one_millisecond(job_queue: JobQueue) -> None:
    ids = [await job_queue.enqueue(JobName.SELFTEST, SelfTest(user_id="fast")) for _ in range(25)]
    assert len(set(ids)) == 25
    assert (await job_queue.get_queue_metrics()).waiting == 25


async def test_invalid_custom_id_or_priority_enqueues_nothing(job_queue: JobQueue) -> None:
    with pytest.raises(InvalidJob, match="integer"):
        await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(job_id="42"))
    with pytest.raises(InvalidJob, match="priority"):
        await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(priority=3_000_000))
    metrics = await job_queue.get_queue_metrics()
    assert metrics.waiting == metrics.prioritized == 0
    assert (await list_jobs(job_queue, JobState.WAITING, owner=("system",))).items == []


async def test_metrics_count_every_state(job_queue: JobQueue) -> None:
    await job_queue.enqueue(JobName.SELFTEST, SelfTest())
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(priority=3))
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(delay_ms=60_000))
    metrics = await job_queue.get_queue_metrics()
    assert (metrics.waiting, metrics.prioritized, metrics.delayed, metrics.active) == (1, 1, 1, 0)
    assert metrics.paused == 0


async def test_user_jobs_come_from_the_index_and_prune_removed_jobs(job_queue: JobQueue) -> None:
    a1 = await job_queue.enqueue(JobName.SELFTEST, SelfTest(user_id="alice"))
    a2 = await job_queue.enqueue(JobName.SELFTEST, SelfTest(user_id="alice"))
    await job_queue.enqueue(JobName.SELFTEST, SelfTest(user_id="bob"))
    jobs = (await list_jobs(job_queue, JobState.WAITING, owner=("alice",))).items
    assert [job.id for job in jobs] == [a2, a1]
    assert {job.state for job in jobs} == {"waiting"}
    await job_queue._queue.remove(a1)
    assert [job.id for job in (await list_jobs(job_queue, JobState.WAITING, owner=("alice",))).items] == [a2]
    assert await job_queue._redis.zcard(job_queue._keys.user_jobs("alice")) == 1


async def test_cancel_removes_a_waiting_or_delayed_job(job_queue: JobQueue) -> None:
    waiting = await job_queue.enqueue(JobName.SELFTEST, SelfTest())
    delayed = await job_queue.enqueue(JobName.SELFTEST, SelfTest(), EnqueueOptions(delay_ms=60_000))
    assert await job_queue.cancel_job(waiting) is CancelOutcome.REMOVED
    assert await job_queue.cancel_job(delayed) is CancelOutcome.REMOVED
    assert await job_queue._queue.getJob(waiting) is None
    assert (await job_queue.get_queue_metrics()).delayed == 0


async def test_cancel_of_an_unknown_job_says_so(job_queue: JobQueue) -> None:
    with pytest.raises(NotFound, match="nope"):
        await job_queue.cancel_job("nope")


async def test_workers_are_found_by_the_names_node_and_python_clients_give_connections(
    settings: Settings, job_queue: JobQueue
) -> None:
    """Node's unnamed and named workers, ours (named as Node names them), and a plain Python
    client's (both its connections named) are each listed once; other clients are not workers."""
    prefix, encoded = settings.queue_prefix, base64.b64encode(QUEUE_NAME.encode()).decode()
    names = [
        f"{prefix}:{encoded}",  # Node, unnamed
        f"{prefix}:{encoded}:w:billing",  # Node, named
        f"{prefix}:{encoded}:w:blogworker-host-1-abc",  # ours
        f"{prefix}:{QUEUE_NAME}:w:legacy",  # the Python client's own naming, on two connections
        f"{prefix}:{QUEUE_NAME}:w:legacy",
        f"{prefix}:{encoded}:qe",  # a QueueEvents connection: no worker
        f"other:{encoded}",  # another prefix
    ]
    clients = [redis_client(settings) for _ in names]
    try:
        for client, name in zip(clients, names, strict=True):
            await client.client_setname(name)
        workers = await job_queue.workers()
    finally:
        for client in clients:
            await client.aclose()
    assert [(w.kind, w.name) for w in workers] == [
        ("node", ""), ("node", "billing"), ("python", "blogworker-host-1-abc"), ("python", "legacy"),
    ]  # fmt: skip
    assert all(w.addr and w.age_s >= 0 and w.idle_s >= 0 for w in workers)


async def test_reading_the_stream_indexes_jobs_any_producer_added(job_queue: JobQueue) -> None:
    """A job added without our enqueue (as a Node producer adds it) is indexed under the user its
    userId names, by id or by email, once the event stream is read; the position is kept."""
    assert await job_queue.index_position() == "0-0"
    by_id = await job_queue._queue.add("selftest", {"userId": "7"}, {"jobId": "other-producer-1"})
    await asyncio.sleep(0.002)  # listed newest first, by the millisecond each was added
    by_email = await job_queue._queue.add("generate", {"userId": "Writer@Example.com"}, {})
    await job_queue._queue.add("selftest", {"userId": "no such:user"}, {})  # names nobody: not indexed
    entries = await job_queue.read_events("0", block_ms=10)
    assert entries and all(event is None for _, event in entries)  # BullMQ's own entries
    assert await job_queue.user_job_ids(["7"]) == [by_id.id]
    assert await job_queue.user_job_ids(["7", "writer@example.com"]) == [by_email.id, by_id.id]
    assert await job_queue.index_position() == entries[-1][0]
