"""A post job's one read and one write, on each database."""

import pytest

from blogqueue import ai_settings, db, post_jobs, runs, users
from blogqueue.ai_settings import AiSettingsUpdate
from blogqueue.crypto import KeyCipher
from blogqueue.errors import NotFound
from blogqueue.models import GenerationRun, RunMode, RunStatus
from blogqueue.post_jobs import NewPost, NewUsage, RunCounts
from blogqueue.providers import Provider
from blogqueue.registry import load_registry
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source

OPENAI_KEY = "sk-test-openai-PLAINTEXT-1234"


def _post(run: GenerationRun, tmdb_id: int, *, incomplete: bool = False) -> NewPost:
    return NewPost(slug=f"title-{tmdb_id}", title=f"Title {tmdb_id}", excerpt="e", body="b", tmdb_id=tmdb_id,
                   media_type=MediaType.MOVIE, source=Source.POPULAR, model="gpt-6.2-sol",
                   provider=Provider.OPENAI, user_id=run.user_id, run_id=run.id, job_id=f"job-{tmdb_id}",
                   incomplete=incomplete)  # fmt: skip


def _usage(run: GenerationRun, tmdb_id: int, cost: float) -> NewUsage:
    return NewUsage(user_id=run.user_id, run_id=run.id, job_id=f"job-{tmdb_id}", model="gpt-6.2-sol",
                    provider=Provider.OPENAI, tokens_in=100, tokens_out=200, cost_usd=cost, outcome="ok")  # fmt: skip


async def test_one_read_and_one_write_per_post(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    connections = db.SyncConnections(engine)
    cipher = KeyCipher.from_settings(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "reader@example.com", "password-reader")
            await ai_settings.update_ai_settings(
                session, cipher, load_registry(), user, AiSettingsUpdate(openai_api_key=OPENAI_KEY)
            )
            run = GenerationRun(user_id=user.id or 0, model="gpt-6.2-sol", source=Source.POPULAR,
                                media_type=MediaType.MOVIE, requested=2, planned=2, budget_usd=1.0,
                                status=RunStatus.RUNNING)  # fmt: skip
            session.add(run)
            await session.commit()
        run_id = run.id or 0

        facts = await connections.run(post_jobs.read, run_id, MediaType.MOVIE, 42)
        assert facts.run == (run_id, run.user_id, "running", "gpt-6.2-sol", "popular", 1.0)
        assert facts.existing is None
        assert list(facts.ciphertexts) == [Provider.OPENAI]
        assert cipher.decrypt(facts.ciphertexts[Provider.OPENAI]) == OPENAI_KEY
        with pytest.raises(NotFound, match=f"run {run_id + 1} does not exist"):
            await connections.run(post_jobs.read, run_id + 1, MediaType.MOVIE, 42)

        first = await connections.run(post_jobs.save_post, _post(run, 42), _usage(run, 42, 0.25))
        # A failed call of the second post, charged on its own, then the post with its last call.
        charged = await connections.run(post_jobs.charge, _usage(run, 43, 0.5))
        post = _post(run, 43)
        second = await connections.run(post_jobs.save_post, post, _usage(run, 43, 0.5))

        assert first == RunCounts("running", RunMode.BATCH, 2, 1, 0, 0.25, 1.0)
        assert not first.over_budget and not first.all_done
        assert charged is not None and charged.posts_done == 1 and charged.cost_usd == 0.75
        assert second is not None and second.over_budget and second.all_done
        assert (post.tokens_in, post.tokens_out, post.cost_usd) == (200, 400, 1.0)  # both calls
        facts = await connections.run(post_jobs.read, run_id, MediaType.MOVIE, 43)
        assert facts.existing is not None
        assert (facts.existing.slug, facts.existing.job_id, facts.existing.cost_usd) == (
            "title-43",
            "job-43",
            1.0,
        )
    finally:
        connections.dispose()
        await engine.dispose()


async def test_an_incomplete_draft_counts_nothing(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "drafts@example.com", "password-drafts")
            run = GenerationRun(user_id=user.id or 0, model="offline", source=Source.POPULAR,
                                media_type=MediaType.MOVIE, requested=1, planned=1, status=RunStatus.RUNNING)  # fmt: skip
            session.add(run)
            await session.commit()
        connections = db.SyncConnections(engine)
        assert await connections.run(post_jobs.save_post, _post(run, 7, incomplete=True)) is None
        connections.dispose()
        async with db.session_factory(engine)() as session:
            stored = await session.get(GenerationRun, run.id)
            assert stored is not None and (stored.posts_done, stored.cost_usd) == (0, 0.0)
    finally:
        await engine.dispose()


async def test_a_run_whose_posts_beat_its_planning_is_finished_once(db_settings: Settings) -> None:
    """A post can be saved before its planning job says "running" (posts start once queued): the
    post does not finish the run, planning does, and only one of the callers finishes it."""
    engine = db.create_engine(db_settings)
    connections = db.SyncConnections(engine)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "race@example.com", "password-race")
            run = GenerationRun(user_id=user.id or 0, model="offline", source=Source.POPULAR,
                                media_type=MediaType.MOVIE, requested=1)  # fmt: skip
            session.add(run)
            await session.commit()
        counts = await connections.run(post_jobs.save_post, _post(run, 9))
        assert counts is not None and counts.status == "planning" and not counts.all_done

        async with db.session_factory(engine)() as session:
            planned = await runs.get_run(session, run.id or 0)
            planned.planned = 1
            await runs.set_status(session, planned, RunStatus.RUNNING)
            finished = await runs.finish_if_done(session, run.id or 0)
            again = await runs.finish_if_done(session, run.id or 0)
        assert finished is not None and (finished.status, finished.posts_done) == ("completed", 1)
        assert finished.message == "1 of 1 posts written" and finished.finished_at is not None
        assert again is None
    finally:
        connections.dispose()
        await engine.dispose()
