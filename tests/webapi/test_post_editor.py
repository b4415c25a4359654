"""Editing posts (version check, field messages, generation record kept) and scheduled publishing
through a real worker, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

from blogqueue.jobqueue import JobQueue
from blogqueue.queues import JobState
from tests.conftest import wait_for
from tests.webapi.conftest import Site
from tests.webapi.test_posts_api import seed

URL = "/api/blog/posts"


async def read(site: Site, slug: str, who: str = "alice") -> dict[str, Any]:
    response = await site.client.get(f"{URL}/{slug}", headers=site.headers[who])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def edit(site: Site, slug: str, who: str = "alice", /, **fields: Any) -> Any:
    return await site.client.patch(f"{URL}/{slug}", json=fields, headers=site.headers[who])


async def test_an_edit_changes_the_text_keeps_the_generation_record_and_marks_the_post(site: Site) -> None:
    await seed(site.settings)
    before = await read(site, "alice-draft")
    assert (before["version"], before["editedAt"]) == (1, None)
    response = await edit(
        site, "alice-draft", version=1, title=" New title ", slug="new-title", excerpt="Short.",
        tags=["drama", " noir ", "drama", ""], body="# Hello\n\nEdited.", posterUrl="https://img.example/p.jpg",
    )  # fmt: skip
    assert response.status_code == 200, response.text
    after = await read(site, "new-title")
    assert (after["title"], after["excerpt"], after["tags"]) == ("New title", "Short.", ["drama", "noir"])
    assert (after["body"], after["posterUrl"], after["version"]) == (
        "# Hello\n\nEdited.",
        "https://img.example/p.jpg",
        2,
    )
    assert after["editedAt"] is not None
    generation = ("model", "provider", "tokensIn", "tokensOut", "costUsd", "runId", "tmdbId")
    assert {k: after[k] for k in generation} == {k: before[k] for k in generation}
    old = await site.client.get(f"{URL}/alice-draft", headers=site.headers["alice"])
    assert old.status_code == 404


async def test_a_stale_version_is_refused_with_409_and_nothing_changes(site: Site) -> None:
    await seed(site.settings)
    assert (await edit(site, "alice-draft", version=1, title="First")).status_code == 200
    stale = await edit(site, "alice-draft", "admin", version=1, title="Second")
    assert stale.status_code == 409
    assert "Reload" in stale.json()["error"]
    assert (await read(site, "alice-draft"))["title"] == "First"


async def test_bad_fields_are_all_named_with_their_labels_and_nothing_is_stored(site: Site) -> None:
    await seed(site.settings)
    response = await edit(
        site, "alice-draft", version=1, title=" ", slug="Bad Slug!", body="", tags=["x" * 41],
        posterUrl="http://img.example/p.jpg",
    )  # fmt: skip
    assert response.status_code == 422
    details = {d["field"]: d["message"] for d in response.json()["details"]}
    assert set(details) == {"title", "slug", "body", "tags", "posterUrl"}
    assert details["title"].startswith("Title ")
    assert details["posterUrl"].startswith("Poster URL must be an https://")
    taken = await edit(site, "alice-draft", version=1, slug="bob-draft")
    assert taken.status_code == 422
    assert taken.json()["details"] == [{"field": "slug", "message": "Slug is already used by another post"}]
    post = await read(site, "alice-draft")
    assert (post["title"], post["version"]) == ("Alice Draft", 1)


async def test_only_the_author_or_an_admin_may_edit(site: Site) -> None:
    await seed(site.settings)
    assert (await edit(site, "alice-published", "bob", version=1, title="Mine")).status_code == 403
    assert (await edit(site, "alice-draft", "bob", version=1, title="Mine")).status_code == 404
    assert (await edit(site, "alice-draft", "admin", version=1, title="Admin's")).status_code == 200


async def test_the_preview_is_the_safe_renderer(site: Site) -> None:
    response = await site.client.post(
        f"{URL}/preview", json={"body": "# Hi\n\n<script>alert(1)</script>"}, headers=site.headers["bob"]
    )
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<h1>Hi</h1>" in html
    assert "<script>" not in html


async def schedule(site: Site, slug: str, at: datetime | str, who: str = "alice") -> Any:
    moment = at if isinstance(at, str) else at.isoformat()
    return await site.client.post(
        f"{URL}/{slug}/schedule", json={"publishAt": moment}, headers=site.headers[who]
    )


async def test_a_scheduled_post_is_published_by_the_worker_at_its_time(site: Site, start_worker: Any) -> None:
    await seed(site.settings)
    start_worker(site.settings)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    response = await schedule(site, "alice-draft", at)
    assert response.status_code == 200, response.text
    assert abs(datetime.fromisoformat(response.json()["publishAt"]) - at) < timedelta(milliseconds=1)
    assert (await read(site, "alice-draft"))["status"] == "draft"

    async def published() -> dict[str, Any] | None:
        post = await read(site, "alice-draft")
        return post if post["status"] == "published" else None

    post = await wait_for(published, timeout=15)
    assert post["publishAt"] is None
    assert datetime.fromisoformat(post["publishedAt"]) >= at - timedelta(milliseconds=50)


async def test_a_cancelled_schedule_removes_the_job_and_the_post_stays_a_draft(site: Site) -> None:
    await seed(site.settings)
    at = datetime.now(UTC) + timedelta(hours=1)
    assert (await schedule(site, "alice-draft", at)).status_code == 200
    queue = JobQueue(site.settings)
    try:
        (delayed,), _ = await queue.jobs_in_state(JobState.DELAYED, 0, 10)
        assert delayed.name == "publish-post"
        cancelled = await site.client.delete(f"{URL}/alice-draft/schedule", headers=site.headers["alice"])
        assert cancelled.status_code == 200
        assert cancelled.json()["publishAt"] is None
        assert (await queue.jobs_in_state(JobState.DELAYED, 0, 10))[0] == []
    finally:
        await queue.close()


async def test_a_stale_or_deleted_schedule_job_completes_without_publishing(
    site: Site, start_worker: Any
) -> None:
    await seed(site.settings)
    start_worker(site.settings)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    assert (await schedule(site, "alice-draft", soon)).status_code == 200
    assert (await schedule(site, "bob-draft", soon, "bob")).status_code == 200
    # Unpublishing drops the schedule; deleting takes the post away: both jobs then do nothing.
    assert (
        await site.client.post(f"{URL}/alice-draft/unpublish", headers=site.headers["alice"])
    ).status_code == 200
    assert (await site.client.delete(f"{URL}/bob-draft", headers=site.headers["bob"])).status_code == 204
    queue = JobQueue(site.settings)
    try:

        async def completed() -> list[Any]:
            jobs, _ = await queue.jobs_in_state(JobState.COMPLETED, 0, 10)
            return jobs if len(jobs) == 2 else []

        jobs = await wait_for(completed, timeout=15)
        assert {job.name for job in jobs} == {"publish-post"}
    finally:
        await queue.close()
    assert (await read(site, "alice-draft"))["status"] == "draft"


async def test_bad_schedules_are_refused(site: Site) -> None:
    await seed(site.settings)
    past = await schedule(site, "alice-draft", datetime.now(UTC) - timedelta(minutes=1))
    assert past.status_code == 422
    assert past.json()["details"][0]["field"] == "publishAt"
    naive = await schedule(site, "alice-draft", "2099-01-01T09:00:00")
    assert naive.status_code == 422
    assert (
        await schedule(site, "alice-published", datetime.now(UTC) + timedelta(hours=1))
    ).status_code == 409
    assert (
        await schedule(site, "alice-incomplete", datetime.now(UTC) + timedelta(hours=1))
    ).status_code == 409
    assert (await read(site, "alice-draft"))["publishAt"] is None
