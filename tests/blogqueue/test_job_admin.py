"""Job management against a real Redis (and a real worker where jobs must finish)."""

from dataclasses import dataclass
from typing import Any

import pytest

from blogqueue import job_admin
from blogqueue.errors import Conflict, Forbidden, InvalidInput, NotFound
from blogqueue.job_admin import CleanRequest, FinishedState, JobState
from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from tests.conftest import wait_for

MINUTE = 60_000


@dataclass(frozen=True)
class Who:
    id: int
    is_admin: bool = False

    @property
    def email(self) -> str:
        return f"user{self.id}@example.com"


ALICE, BOB, ADMIN = Who(7), Who(8), Who(1, is_admin=True)


async def _add(job_queue: JobQueue, who: Who, options: EnqueueOptions | None = None, **payload: Any) -> str:
    return await job_queue.enqueue(JobName.SELFTEST, SelfTest(user_id=str(who.id), **payload), options)


async def _in_state(job_queue: JobQueue, job_id: str, state: str, timeout: float = 15) -> None:
    async def check() -> bool:
        return str(await job_queue._queue.getJobState(job_id)) == state

    await wait_for(check, timeout)


async def test_a_user_lists_their_own_jobs_per_state_newest_first_with_paging(job_queue: JobQueue) -> None:
    waiting = [await _add(job_queue, ALICE) for _ in range(5)]
    delayed = await _add(job_queue, ALICE, EnqueueOptions(delay_ms=60_000))
    prioritized = await _add(job_queue, ALICE, EnqueueOptions(priority=4))
    await _add(job_queue, BOB)
    owner = job_admin.listing_owner(ALICE, None)
    first = await job_admin.list_jobs(job_queue, JobState.WAITING, owner=owner, page=1, page_size=2)
    assert [item.id for item in first.items] == waiting[::-1][:2]
    assert (first.total, first.page, first.page_size) == (5, 1, 2)
    last = await job_admin.list_jobs(job_queue, JobState.WAITING, owner=owner, page=3, page_size=2)
    assert [item.id for item in last.items] == [waiting[0]]
    assert {item.state for item in first.items + last.items} == {"waiting"}
    assert {item.user_id for item in first.items} == {"7"}
    in_delayed = await job_admin.list_jobs(job_queue, JobState.DELAYED, owner=owner)
    assert ([item.id for item in in_delayed.items], in_delayed.total) == ([delayed], 1)
    in_prioritized = await job_admin.list_jobs(job_queue, JobState.PRIORITIZED, owner=owner)
    assert [item.id for item in in_prioritized.items] == [prioritized]
    assert (await job_admin.list_jobs(job_queue, JobState.FAILED, owner=owner)).total == 0


async def test_the_user_listing_prunes_jobs_bullmq_removed(job_queue: JobQueue) -> None:
    kept, dropped = await _add(job_queue, ALICE), await _add(job_queue, ALICE)
    await job_queue._queue.remove(dropped)
    page = await job_admin.list_jobs(job_queue, JobState.WAITING, owner=("7",))
    assert ([item.id for item in page.items], page.total) == ([kept], 1)
    assert await job_queue._redis.zrange(job_queue._keys.user_jobs("7"), 0, -1) == [kept]


async def test_admins_list_every_job_of_a_state_or_one_users(job_queue: JobQueue) -> None:
    alice = [await _add(job_queue, ALICE) for _ in range(3)]
    bob = await _add(job_queue, BOB)
    everyone = await job_admin.list_jobs(job_queue, JobState.WAITING, owner=None, page=1, page_size=3)
    assert [item.id for item in everyone.items] == [bob, *alice[::-1][:2]]
    assert everyone.total == 4
    second = await job_admin.list_jobs(job_queue, JobState.WAITING, owner=None, page=2, page_size=3)
    assert [item.id for item in second.items] == [alice[0]]
    only_bob = job_admin.listing_owner(ADMIN, BOB.id)
    page = await job_admin.list_jobs(job_queue, JobState.WAITING, owner=only_bob)
    assert ([item.id for item in page.items], page.total) == ([bob], 1)


async def test_users_may_not_list_other_users_jobs() -> None:
    assert job_admin.listing_owner(ALICE, ALICE.id) == ("7", "user7@example.com")
    with pytest.raises(Forbidden):
        job_admin.listing_owner(ALICE, BOB.id)


async def test_listing_rejects_bad_paging(job_queue: JobQueue) -> None:
    with pytest.raises(InvalidInput) as bad_page:
        await job_admin.list_jobs(job_queue, JobState.WAITING, owner=None, page=0)
    assert bad_page.value.field == "page"
    with pytest.raises(InvalidInput) as bad_size:
        await job_admin.list_jobs(job_queue, JobState.WAITING, owner=("7",), page_size=101)
    assert bad_size.value.field == "pageSize"


async def test_a_job_of_someone_else_reads_as_missing(job_queue: JobQueue) -> None:
    job_id = await _add(job_queue, ALICE)
    assert (await job_admin.get_job(job_queue, ALICE, job_id)).id == job_id
    assert (await job_admin.get_job(job_queue, ADMIN, job_id)).user_id == "7"
    for action in (job_admin.get_job, job_admin.retry_job, job_admin.promote_job, job_admin.remove_job):
        with pytest.raises(NotFound, match="does not exist"):
            await action(job_queue, BOB, job_id)
        with pytest.raises(NotFound, match="does not exist"):
            await action(job_queue, ADMIN, "no-such-job")
    assert await job_queue._queue.getJob(job_id) is not None


async def test_active_completed_and_failed_jobs_show_in_their_state_with_details(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings)
    done = await _add(job_queue, ALICE, note="fine")
    failed = await _add(job_queue, ALICE, EnqueueOptions(attempts=1), fail_attempts=99)
    await _in_state(job_queue, done, "completed")
    await _in_state(job_queue, failed, "failed")
    running = await _add(job_queue, ALICE, sleep_ms=20_000)
    await _in_state(job_queue, running, "active")
    for state, expected in (
        (JobState.COMPLETED, done),
        (JobState.FAILED, failed),
        (JobState.ACTIVE, running),
    ):
        page = await job_admin.list_jobs(job_queue, state, owner=("7",))
        assert [item.id for item in page.items] == [expected], state
    detail = await job_admin.get_job(job_queue, ALICE, failed)
    assert (detail.state, detail.attempts_made, detail.attempts_started) == ("failed", 1, 1)
    assert detail.failed_reason == "selftest failing attempt 1 of 99"
    assert detail.logs == ["selftest attempt 1"] and detail.log_count == 1
    assert "SelfTestFailure" in detail.stacktrace[0]
    assert detail.opts["attempts"] == 1
    assert detail.finished_on and detail.processed_on
    completed = await job_admin.get_job(job_queue, ALICE, done)
    assert completed.returnvalue["note"] == "fine"
    assert completed.progress == 100 and completed.stacktrace == []
    with pytest.raises(Conflict, match="running"):
        await job_admin.remove_job(job_queue, ALICE, running)
    assert str(await job_queue._queue.getJobState(running)) == "active"


async def test_retry_moves_a_failed_job_back_to_waiting_and_only_a_failed_one(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    worker = start_worker(settings)
    failed = await _add(job_queue, ALICE, EnqueueOptions(attempts=1), fail_attempts=99)
    await _in_state(job_queue, failed, "failed")
    await worker.stop()
    retried = await job_admin.retry_job(job_queue, ALICE, failed)
    assert (retried.state, retried.failed_reason) == ("waiting", None)
    assert str(await job_queue._queue.getJobState(failed)) == "waiting"
    with pytest.raises(Conflict, match="is waiting: only a failed job"):
        await job_admin.retry_job(job_queue, ALICE, failed)


async def test_promote_runs_a_delayed_job_now_and_only_a_delayed_one(job_queue: JobQueue) -> None:
    delayed = await _add(job_queue, ALICE, EnqueueOptions(delay_ms=600_000))
    promoted = await job_admin.promote_job(job_queue, ALICE, delayed)
    assert promoted.state == "waiting"
    assert (await job_queue.get_queue_metrics()).delayed == 0
    with pytest.raises(Conflict, match="only a delayed job"):
        await job_admin.promote_job(job_queue, ADMIN, delayed)


async def test_remove_deletes_a_pending_job_and_its_index_entry(job_queue: JobQueue) -> None:
    waiting = await _add(job_queue, ALICE)
    delayed = await _add(job_queue, ALICE, EnqueueOptions(delay_ms=600_000))
    await job_admin.remove_job(job_queue, ALICE, waiting)
    await job_admin.remove_job(job_queue, ADMIN, delayed)
    assert await job_queue._queue.getJob(waiting) is None
    assert await job_queue._queue.getJob(delayed) is None
    assert await job_queue._redis.zcard(job_queue._keys.user_jobs("7")) == 0


async def test_clean_removes_finished_jobs_older_than_the_grace(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings)
    done = [await _add(job_queue, ALICE) for _ in range(3)]
    failed = await _add(job_queue, BOB, EnqueueOptions(attempts=1), fail_attempts=99)
    for job_id in done:
        await _in_state(job_queue, job_id, "completed")
    await _in_state(job_queue, failed, "failed")
    young = CleanRequest(state=FinishedState.COMPLETED, grace_ms=3_600_000)
    assert (await job_admin.clean_jobs(job_queue, young)).removed == []
    two = CleanRequest(state=FinishedState.COMPLETED, grace_ms=0, limit=2)
    first = (await job_admin.clean_jobs(job_queue, two)).removed
    assert len(first) == 2 and set(first) < set(done)
    rest = (
        await job_admin.clean_jobs(job_queue, CleanRequest(state=FinishedState.COMPLETED, grace_ms=0))
    ).removed
    assert set(first + rest) == set(done)
    assert (await job_queue.get_queue_metrics()).failed == 1
    assert (await job_admin.clean_jobs(job_queue, CleanRequest(FinishedState.FAILED, 0))).removed == [failed]


async def test_clean_rejects_a_negative_grace_or_a_limit_out_of_range(job_queue: JobQueue) -> None:
    for request, field in (
        (CleanRequest(FinishedState.FAILED, -1), "graceMs"),
        (CleanRequest(FinishedState.FAILED, 0, 0), "limit"),
        (CleanRequest(FinishedState.FAILED, 0, 10_001), "limit"),
    ):
        with pytest.raises(InvalidInput) as caught:
            await job_admin.clean_jobs(job_queue, request)
        assert caught.value.field == field


def test_the_window_counts_the_open_minute_and_the_closed_minutes_within_the_hour() -> None:
    now = 1_000 * MINUTE + 30_000
    # BullMQ last closed a minute at minute 998; two jobs have finished since; points newest first.
    meta = {"count": "20", "prevTS": str(998 * MINUTE + 5), "prevCount": "18"}
    points = ["3", "0", "5"] + ["1"] * 60  # minutes 997, 996, 995, then one a minute before that
    window_from_941 = 2 + 3 + 0 + 5 + (995 - 941)
    assert job_admin.finished_in_window(meta, points, now) == window_from_941
    assert job_admin.finished_in_window(meta, points, now, minutes=4) == 2 + 3  # minutes 997-1000
    assert job_admin.finished_in_window(meta, points, now, minutes=3) == 2  # minutes 998-1000
    assert job_admin.finished_in_window(meta, points, now + 2 * MINUTE, minutes=5) == 2
    assert job_admin.finished_in_window(meta, points, now + 3 * MINUTE, minutes=5) == 0
    # A worker clock ahead of ours: the window ends at the worker's newest minute instead.
    assert job_admin.finished_in_window(meta, points, 990 * MINUTE, minutes=3) == 2 + 3 + 0
    assert job_admin.finished_in_window({}, [], now) == 0
    first_ever = {"count": "1", "prevTS": str(now - 1_000), "prevCount": "0"}
    assert job_admin.finished_in_window(first_ever, [], now) == 1


async def test_the_report_has_counts_throughput_and_failure_rate(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    empty = await job_admin.queue_report(job_queue)
    assert (empty.throughput.completed_last_hour, empty.failure_rate) == (0, None)
    start_worker(settings)
    done = [await _add(job_queue, ALICE) for _ in range(3)]
    failed = [await _add(job_queue, BOB, EnqueueOptions(attempts=1), fail_attempts=99) for _ in range(2)]
    for job_id in done:
        await _in_state(job_queue, job_id, "completed")
    for job_id in failed:
        await _in_state(job_queue, job_id, "failed")
    await _add(job_queue, ALICE, EnqueueOptions(delay_ms=600_000))
    report = await job_admin.queue_report(job_queue)
    assert (report.completed, report.failed, report.delayed) == (3, 2, 1)
    assert (report.throughput.completed_last_hour, report.throughput.failed_last_hour) == (3, 2)
    assert report.throughput.per_minute == pytest.approx(3 / 60)
    assert report.failure_rate == pytest.approx(0.4)
    later = await job_admin.queue_report(
        job_queue, now_ms=(await _finished_at(job_queue, done[0])) + 61 * MINUTE
    )
    assert (later.throughput.completed_last_hour, later.failure_rate) == (0, None)


async def _finished_at(job_queue: JobQueue, job_id: str) -> int:
    job = await job_queue._queue.getJob(job_id)
    return int(job.finishedOn)


def test_per_hour_puts_bullmqs_minutes_in_the_right_hours() -> None:
    minute = 60_000
    now = 1_000 * 60 * minute + 30_000  # half a minute into minute 60000
    meta = {"prevTS": str(now - 2 * minute), "count": "10", "prevCount": "7"}  # 3 in the minute 2 ago
    points = ["1"] * 58 + ["5"] + ["2"] * 200  # minutes 3..60 ago: 1 each; 61 ago: 5; older: 2 each
    hours = job_admin.per_hour(meta, points, now, hours=3)
    assert hours[2] == 3 + 57  # the current hour: minutes 0-59 ago (minute 60's point falls in the next)
    assert hours[1] == 1 + 5 + 58 * 2  # minutes 60-119 ago
    assert hours[0] == 60 * 2  # minutes 120-179 ago
    assert job_admin.per_hour({}, [], now) == [0] * 24
