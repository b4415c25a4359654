"""What a failed job does is decided once, from the error's type: a case per error class, and the
decision seen end to end on a real worker."""

from typing import Any

import pytest

from blogqueue import errors
from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from blogworker.context import WorkerContext
from blogworker.failures import Outcome, decide, is_final, reason
from blogworker.processor import Handler
from blogworker.providers.base import FailureKind, ProviderError
from tests.conftest import wait_for

CASES: list[tuple[Exception, Outcome]] = [
    (errors.InvalidInput("bad"), Outcome.FAIL),
    (errors.InvalidJob("bad job"), Outcome.FAIL),
    (errors.NotFound("gone"), Outcome.FAIL),
    (errors.Unauthorized("who"), Outcome.FAIL),
    (errors.Forbidden("no"), Outcome.FAIL),
    (errors.Conflict("already has a post"), Outcome.FAIL),
    (errors.TooManyRequests("slow down", retry_after=3), Outcome.RETRY),
    (errors.Unavailable("TMDb is down"), Outcome.RETRY),
    (errors.Misconfigured("no key ring"), Outcome.FAIL),
    (errors.UndecryptableKey("the ring lost the key"), Outcome.FAIL),
    (errors.UnusableAnswer("no usable post"), Outcome.FAIL),
    (errors.Cancelled("stopped by admin"), Outcome.FAIL),
    (errors.ShuttingDown(), Outcome.HAND_BACK),
    (errors.Postponed("rate limit", delay_s=2), Outcome.POSTPONE),
    (errors.BlogQueueError("anything else raised on purpose"), Outcome.FAIL),
    (ProviderError(FailureKind.AUTH, "bad key", provider="openai"), Outcome.FAIL),
    (ProviderError(FailureKind.MODEL, "retired", provider="openai"), Outcome.FAIL),
    (ProviderError(FailureKind.QUOTA, "billing", provider="openai"), Outcome.FAIL),
    (ProviderError(FailureKind.BAD_REQUEST, "rejected", provider="openai"), Outcome.FAIL),
    (ProviderError(FailureKind.TRANSIENT, "503", provider="openai"), Outcome.RETRY),
    (ProviderError(FailureKind.RATE_LIMIT, "429", provider="openai"), Outcome.RETRY),
    (ConnectionResetError("a dropped connection"), Outcome.RETRY),
    (KeyError("a bug"), Outcome.RETRY),
]


def test_every_error_class_has_a_case() -> None:
    def subclasses(cls: type) -> set[type]:
        return {cls} | {sub for direct in cls.__subclasses__() for sub in subclasses(direct)}

    covered = {type(err) for err, _ in CASES}
    in_tree = {cls for cls in subclasses(errors.BlogQueueError) if cls.__module__ == "blogqueue.errors"}
    assert in_tree <= covered


@pytest.mark.parametrize(("err", "outcome"), CASES, ids=[f"{type(e).__name__}-{o}" for e, o in CASES])
def test_each_error_has_one_outcome(err: Exception, outcome: Outcome) -> None:
    assert decide(err) is outcome
    final_at_once = outcome is Outcome.FAIL
    assert is_final(err, attempt=0, attempts=3) is final_at_once
    assert is_final(err, attempt=2, attempts=3) is (outcome in (Outcome.FAIL, Outcome.RETRY))


def test_a_cancelled_job_says_so_in_its_reason() -> None:
    assert reason(errors.Cancelled("stopped by admin")) == "cancelled: stopped by admin"
    assert reason(errors.NotFound("run 3 does not exist")) == "run 3 does not exist"


async def _raise_from_note(_ctx: WorkerContext, payload: SelfTest) -> None:
    raise {"undecryptable": errors.UndecryptableKey("the ring lost the key of user 1"),
           "postponed": errors.Postponed("come back later", delay_s=60)}[payload.note]  # fmt: skip


async def test_an_undecryptable_key_fails_at_once_and_a_postponed_job_keeps_its_attempts(
    settings: Settings, job_queue: JobQueue, start_worker: Any
) -> None:
    start_worker(settings, {JobName.SELFTEST: Handler(SelfTest, _raise_from_note)})
    lost = await job_queue.enqueue(
        JobName.SELFTEST, SelfTest(note="undecryptable"), EnqueueOptions(attempts=3)
    )
    later = await job_queue.enqueue(JobName.SELFTEST, SelfTest(note="postponed"), EnqueueOptions(attempts=3))

    async def settled() -> Any:
        jobs = [await job_queue.get_job(lost), await job_queue.get_job(later)]
        return jobs if (jobs[0].state, jobs[1].state) == ("failed", "delayed") else None

    failed, delayed = await wait_for(settled, timeout=15)
    assert (failed.attempts_made, failed.failed_reason) == (1, "the ring lost the key of user 1")
    assert delayed.attempts_made == 0
    logs, _ = await job_queue.job_logs(later)
    assert logs == ["waiting 60.0 s: come back later"]
