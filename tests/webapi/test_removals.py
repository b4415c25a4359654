"""A post job removed by hand before it ran: its run counts it as failed and finishes, and its
title goes back to the pool."""

from __future__ import annotations

from blogqueue import claims, db, runs
from blogqueue.jobqueue import JobQueue
from blogqueue.models import RunStatus
from blogqueue.payloads import GeneratePost
from blogqueue.queues import JobName, plan_id, post_job_id
from blogqueue.runs import RunSpec
from blogqueue.titles import MediaType, Source
from tests.webapi.conftest import Site


async def test_removing_a_waiting_post_job_fails_it_for_its_run_and_frees_its_title(site: Site) -> None:
    admin = site.headers["admin"]
    admin_id = (await site.client.get("/api/auth/me", headers=admin)).json()["id"]
    queue = JobQueue(site.settings)
    engine = db.create_engine(site.settings)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:  # a run planned by hand: one title claimed, its job waiting
            spec = RunSpec(model="offline", source=Source.POPULAR, media_type=MediaType.MOVIE, count=1)
            run = await runs.create_run(session, queue, admin_id, spec)
            assert run.id is not None
            job_id = post_job_id(plan_id(str(run.plan_job_id)), MediaType.MOVIE, 900000001)
            assert await claims.claim(session, MediaType.MOVIE, 900000001, run.id, job_id)
            run.planned, run.status = 1, RunStatus.RUNNING
            session.add(run)
            await session.commit()
        payload = GeneratePost(
            user_id=str(admin_id), run_id=run.id, tmdb_id=900000001, media_type=MediaType.MOVIE
        )
        await queue.enqueue_many([(JobName.GENERATE_POST, payload, job_id, 1)])

        removed = await site.client.delete(f"/api/jobs/{job_id}", headers=admin)
        assert removed.status_code == 204, removed.text

        async with sessions() as session:
            after = await runs.get_run(session, run.id)
            left = await claims.claims_of(session, run.id)
        status = (await site.client.get("/api/admin/blog/auto-generate/status", headers=admin)).json()
    finally:
        await engine.dispose()
        await queue.close()
    assert (after.status, after.posts_failed, after.released) == ("failed", 1, 1)
    assert after.message == "0 of 1 posts written, 1 failed: removed from the queue before it ran"
    assert left == []
    (view,) = status["runs"]
    assert [(post["jobId"], post["state"], post["reason"]) for post in view["posts"]] == [
        (job_id, "failed", "removed from the queue before it ran")
    ]
