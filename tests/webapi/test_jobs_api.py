"""Job management over HTTP: listing, ownership, details, retry/promote/remove, clean and metrics."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from blogqueue.settings import Settings
from tests.conftest import wait_for
from tests.webapi.conftest import Site, create_accounts, sign_in
from webapi.app import create_app

ITEM_KEYS = {"id", "name", "state", "progress", "attemptsMade", "timestamp", "processedOn", "finishedOn",
             "failedReason", "userId", "data"}  # fmt: skip
DETAIL_KEYS = ITEM_KEYS | {"opts", "attemptsStarted", "delay", "priority", "logs", "logCount", "stacktrace",
                           "returnvalue"}  # fmt: skip
COUNT_KEYS = {"waiting", "active", "completed", "failed", "delayed", "prioritized", "paused"}


@pytest.fixture
async def queue(site: Site) -> AsyncIterator[JobQueue]:
    job_queue = JobQueue(site.settings)
    yield job_queue
    await job_queue.close()


async def _user_id(site: Site, who: str) -> int:
    return int((await site.client.get("/api/auth/me", headers=site.headers[who])).json()["id"])


async def _add(queue: JobQueue, user_id: int, options: EnqueueOptions | None = None, **payload: Any) -> str:
    return await queue.enqueue(JobName.SELFTEST, SelfTest(user_id=str(user_id), **payload), options)


async def _in_state(queue: JobQueue, job_id: str, state: str) -> None:
    async def check() -> bool:
        return str(await queue._queue.getJobState(job_id)) == state

    await wait_for(check, 15)


async def _list(site: Site, who: str, **params: Any) -> Any:
    response = await site.client.get("/api/jobs", params=params, headers=site.headers[who])
    assert response.status_code == 200, response.text
    return response.json()


async def test_users_list_their_own_jobs_per_state_and_admins_everyones(site: Site, queue: JobQueue) -> None:
    alice, bob = await _user_id(site, "alice"), await _user_id(site, "bob")
    mine = [await _add(queue, alice) for _ in range(3)]
    theirs = await _add(queue, bob)
    delayed = await _add(queue, alice, EnqueueOptions(delay_ms=600_000))
    first = await _list(site, "alice", state="waiting", pageSize=2)
    assert [item["id"] for item in first["items"]] == mine[::-1][:2]
    assert (first["page"], first["pageSize"], first["total"]) == (1, 2, 3)
    assert set(first["items"][0]) == ITEM_KEYS
    assert first["items"][0]["userId"] == str(alice)
    assert first["items"][0]["data"]["userId"] == str(alice)
    second = await _list(site, "alice", state="waiting", pageSize=2, page=2)
    assert [item["id"] for item in second["items"]] == [mine[0]]
    assert [item["id"] for item in (await _list(site, "alice", state="delayed"))["items"]] == [delayed]
    assert (await _list(site, "bob", state="waiting"))["total"] == 1
    everyone = await _list(site, "admin", state="waiting")
    assert [item["id"] for item in everyone["items"]] == [theirs, *mine[::-1]]
    assert everyone["total"] == 4
    only_bob = await _list(site, "admin", state="waiting", userId=bob)
    assert ([item["id"] for item in only_bob["items"]], only_bob["total"]) == ([theirs], 1)
    assert (await _list(site, "alice", state="waiting", userId=alice))["total"] == 3
    peek = await site.client.get(
        "/api/jobs", params={"state": "waiting", "userId": bob}, headers=site.headers["alice"]
    )
    assert peek.status_code == 403


def _names(details: list[dict[str, str]], field: str) -> bool:
    """Litestar names a bad body field either as the detail's field or, under the field "data", in the
    message (`$.graceMs`, or `extra` for an unknown field)."""
    [detail] = details
    message = detail["message"].replace("$.", "")
    return detail.get("field") == field or (detail.get("field") == "data" and f"`{field}`" in message)


def _named(response: Any) -> set[str]:
    """The fields a 422 names, ours and Litestar's own validation alike."""
    return {detail.get("field") for detail in response.json().get("details", [])}


async def test_bad_listing_parameters_are_422_naming_the_parameter(site: Site) -> None:
    cases = [({"state": "sleeping"}, "state"), ({"state": "waiting", "page": 0}, "page"),
             ({"state": "waiting", "pageSize": 101}, "pageSize"), ({"state": "waiting", "pageSize": "x"}, "pageSize"),
             ({"state": "waiting", "userId": "abc"}, "userId"), ({"state": "waiting", "userId": 0}, "userId"),
             ({"state": "waiting", "page": 10**21}, "page"), ({"state": "waiting", "userId": 2**63}, "userId")]  # fmt: skip
    for params, field in cases:
        response = await site.client.get("/api/jobs", params=params, headers=site.headers["admin"])
        assert response.status_code == 422, (params, response.text)
        assert _named(response) == {field}, (params, response.text)
    missing = await site.client.get("/api/jobs", headers=site.headers["alice"])
    assert missing.status_code == 422
    assert missing.json()["error"] == "Missing required query parameter 'state' for path /api/jobs"


async def test_someone_elses_job_is_404_for_every_action(site: Site, queue: JobQueue) -> None:
    bob = await _user_id(site, "bob")
    job_id = await _add(queue, bob, EnqueueOptions(delay_ms=600_000))
    alice_headers = site.headers["alice"]
    for method, path in (("GET", ""), ("POST", "/retry"), ("POST", "/promote"), ("DELETE", "")):
        theirs = await site.client.request(method, f"/api/jobs/{job_id}{path}", headers=alice_headers)
        missing = await site.client.request(method, f"/api/jobs/blog-gen-none-1{path}", headers=alice_headers)
        assert theirs.status_code == missing.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"] == missing.json()["error"].replace("blog-gen-none-1", job_id)
    assert str(await queue._queue.getJobState(job_id)) == "delayed"
    assert (await site.client.get(f"/api/jobs/{job_id}", headers=site.headers["bob"])).status_code == 200
    assert (await site.client.get(f"/api/jobs/{job_id}", headers=site.headers["admin"])).status_code == 200


async def test_job_routes_need_sign_in(site: Site, queue: JobQueue) -> None:
    job_id = await _add(queue, await _user_id(site, "alice"))
    for method, path in (("GET", "/api/jobs?state=waiting"), ("GET", f"/api/jobs/{job_id}"),
                         ("POST", f"/api/jobs/{job_id}/retry"), ("POST", f"/api/jobs/{job_id}/promote"),
                         ("DELETE", f"/api/jobs/{job_id}")):  # fmt: skip
        assert (await site.client.request(method, path)).status_code == 401, (method, path)
    assert await queue._queue.getJob(job_id) is not None


async def test_details_of_a_failed_job_then_retry_it(site: Site, queue: JobQueue, start_worker: Any) -> None:
    alice = await _user_id(site, "alice")
    worker = start_worker(site.settings)
    failed = await _add(queue, alice, EnqueueOptions(attempts=1), fail_attempts=99, note="doomed")
    done = await _add(queue, alice, note="fine")
    await _in_state(queue, failed, "failed")
    await _in_state(queue, done, "completed")
    await worker.stop()
    detail = (await site.client.get(f"/api/jobs/{failed}", headers=site.headers["alice"])).json()
    assert set(detail) == DETAIL_KEYS
    assert (detail["state"], detail["attemptsMade"], detail["attemptsStarted"]) == ("failed", 1, 1)
    assert detail["failedReason"] == "selftest failing attempt 1 of 99"
    assert detail["logs"] == ["selftest attempt 1"] and detail["logCount"] == 1
    assert "SelfTestFailure: selftest failing attempt 1 of 99" in detail["stacktrace"][0]
    assert detail["opts"]["attempts"] == 1 and detail["data"]["note"] == "doomed"
    assert detail["finishedOn"] >= detail["processedOn"] >= detail["timestamp"] > 0
    completed = (await site.client.get(f"/api/jobs/{done}", headers=site.headers["admin"])).json()
    assert completed["returnvalue"]["note"] == "fine" and completed["progress"] == 100
    assert (await _list(site, "alice", state="failed"))["total"] == 1
    not_failed = await site.client.post(f"/api/jobs/{done}/retry", headers=site.headers["alice"])
    assert not_failed.status_code == 409 and "only a failed job" in not_failed.json()["error"]
    retried = await site.client.post(f"/api/jobs/{failed}/retry", headers=site.headers["alice"])
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["failedReason"]) == ("waiting", None)
    assert str(await queue._queue.getJobState(failed)) == "waiting"
    again = await site.client.post(f"/api/jobs/{failed}/retry", headers=site.headers["alice"])
    assert again.status_code == 409


async def test_promote_a_delayed_job(site: Site, queue: JobQueue) -> None:
    delayed = await _add(queue, await _user_id(site, "alice"), EnqueueOptions(delay_ms=600_000))
    promoted = await site.client.post(f"/api/jobs/{delayed}/promote", headers=site.headers["alice"])
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["state"] == "waiting"
    assert str(await queue._queue.getJobState(delayed)) == "waiting"
    again = await site.client.post(f"/api/jobs/{delayed}/promote", headers=site.headers["admin"])
    assert again.status_code == 409 and "only a delayed job" in again.json()["error"]


async def test_remove_a_pending_job_but_not_a_running_one(
    site: Site, queue: JobQueue, start_worker: Any
) -> None:
    alice = await _user_id(site, "alice")
    waiting = await _add(queue, alice)
    removed = await site.client.delete(f"/api/jobs/{waiting}", headers=site.headers["alice"])
    assert removed.status_code == 204, removed.text
    assert await queue._queue.getJob(waiting) is None
    assert (await site.client.get(f"/api/jobs/{waiting}", headers=site.headers["alice"])).status_code == 404
    start_worker(site.settings)
    running = await _add(queue, alice, sleep_ms=20_000)
    await _in_state(queue, running, "active")
    refused = await site.client.delete(f"/api/jobs/{running}", headers=site.headers["admin"])
    assert refused.status_code == 409 and "cancel it" in refused.json()["error"]
    assert str(await queue._queue.getJobState(running)) == "active"


async def test_admins_clean_finished_jobs(site: Site, queue: JobQueue, start_worker: Any) -> None:
    alice = await _user_id(site, "alice")
    start_worker(site.settings)
    done = [await _add(queue, alice) for _ in range(2)]
    failed = await _add(queue, alice, EnqueueOptions(attempts=1), fail_attempts=99)
    for job_id in done:
        await _in_state(queue, job_id, "completed")
    await _in_state(queue, failed, "failed")
    url, admin = "/api/admin/queue/clean", site.headers["admin"]
    assert (
        await site.client.post(url, json={"state": "failed", "graceMs": 0}, headers=site.headers["alice"])
    ).status_code == 403
    kept = await site.client.post(url, json={"state": "completed", "graceMs": 3_600_000}, headers=admin)
    assert (kept.status_code, kept.json()) == (200, {"removed": []})
    cleaned = await site.client.post(
        url, json={"state": "completed", "graceMs": 0, "limit": 10}, headers=admin
    )
    assert sorted(cleaned.json()["removed"]) == sorted(done)
    assert (await _list(site, "alice", state="completed"))["total"] == 0
    assert (await _list(site, "alice", state="failed"))["total"] == 1
    for body, field in (({"state": "waiting", "graceMs": 0}, "state"), ({"state": "failed"}, "graceMs"),
                        ({"state": "failed", "graceMs": -1}, "graceMs"), ({"state": "failed", "graceMs": 0, "limit": 0}, "limit"),
                        ({"state": "failed", "graceMs": 0, "limit": 10_001}, "limit"),
                        ({"state": "failed", "graceMs": 0, "extra": 1}, "extra")):  # fmt: skip
        response = await site.client.post(url, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert _names(response.json()["details"], field), (body, response.text)
    assert str(await queue._queue.getJobState(failed)) == "failed"


async def test_metrics_keep_the_counts_and_add_throughput(
    site: Site, queue: JobQueue, start_worker: Any
) -> None:
    url = "/api/admin/queue/metrics"
    before = (await site.client.get(url, headers=site.headers["admin"])).json()
    assert before["throughput"] == {"completedLastHour": 0, "failedLastHour": 0, "perMinute": 0.0}
    assert before["failureRate"] is None
    alice = await _user_id(site, "alice")
    start_worker(site.settings)
    done = [await _add(queue, alice) for _ in range(3)]
    failed = await _add(queue, alice, EnqueueOptions(attempts=1), fail_attempts=99)
    for job_id in done:
        await _in_state(queue, job_id, "completed")
    await _in_state(queue, failed, "failed")
    report = (await site.client.get(url, headers=site.headers["admin"])).json()
    assert set(report) == COUNT_KEYS | {"throughput", "failureRate"}
    assert (report["completed"], report["failed"], report["waiting"]) == (3, 1, 0)
    assert report["throughput"]["completedLastHour"] == 3
    assert report["throughput"]["failedLastHour"] == 1
    assert report["throughput"]["perMinute"] == pytest.approx(3 / 60)
    assert report["failureRate"] == pytest.approx(0.25)
    assert (await site.client.get(url, headers=site.headers["alice"])).status_code == 403


async def test_jobs_another_producer_added_while_no_api_ran_are_listed_for_their_user(
    sqlite_settings: Settings,
) -> None:
    """Added without our index (as Node adds them), naming the user by email or id: the API's
    stream reader files them under that user when it starts, and only that user sees them."""
    await create_accounts(sqlite_settings)
    queue = JobQueue(sqlite_settings)
    try:
        by_email = await queue._queue.add("selftest", {"userId": "Alice@Example.com"}, {"delay": 60_000})
        by_id = await queue._queue.add("selftest", {"userId": "2"}, {"delay": 60_000})
    finally:
        await queue.close()
    async with AsyncTestClient(create_app(sqlite_settings)) as client:
        alice, bob = await sign_in(client, "alice@example.com"), await sign_in(client, "bob@example.com")
        me = (await client.get("/api/auth/me", headers=alice)).json()
        assert me["id"] == 2  # the admin is user 1

        async def listed() -> list[str]:
            page = (await client.get("/api/jobs", params={"state": "delayed"}, headers=alice)).json()
            return [item["id"] for item in page["items"]]

        assert await wait_for(listed) == [by_id.id, by_email.id]
        bobs = (await client.get("/api/jobs", params={"state": "delayed"}, headers=bob)).json()
        assert bobs["items"] == []
        assert (await client.get(f"/api/jobs/{by_email.id}", headers=alice)).status_code == 200
        assert (await client.get(f"/api/jobs/{by_email.id}", headers=bob)).status_code == 404
