import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlmodel import select

from blogqueue import claims, db, job_admin, post_jobs, posts, run_views, runs, users
from blogqueue.errors import Conflict, InvalidInput
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, GenerationRun, RunMode, RunStatus, TitleClaim
from blogqueue.post_jobs import NewPost
from blogqueue.providers import Provider
from blogqueue.queues import JobState
from blogqueue.registry import load_registry
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TitleFilters
from tests.conftest import free_port, make_settings

SPEC = RunSpec(model="offline", source=Source.POPULAR, media_type=MediaType.MOVIE, count=3)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 51}, "count"),
        ({"source": Source.ON_THE_AIR}, "source"),
        ({"source": Source.UPCOMING, "media_type": MediaType.TV}, "source"),
        ({"filters": TitleFilters(min_rating=11)}, "filters.minRating"),
        ({"filters": TitleFilters(year_from=2001, year_to=1999)}, "filters.yearFrom"),
        ({"filters": TitleFilters(year_to=3000)}, "filters.yearTo"),
        ({"model": "gpt-4"}, "model"),
        ({"model": "nope"}, "model"),
        ({"mode": RunMode.CONTINUOUS, "cron": "0 0 31 2 *"}, "cron"),  # never fires
        ({"mode": RunMode.CONTINUOUS, "cron": "* * * * *"}, "cron"),  # every minute
        ({"mode": RunMode.CONTINUOUS, "cron": "0,3 9 * * 1"}, "cron"),  # twice, 3 minutes apart
        ({"mode": RunMode.CONTINUOUS, "cron": "0 */10 * * * *"}, "cron"),  # croniter's 6th field: seconds
        ({"mode": RunMode.CONTINUOUS, "cron": "58,1 0,23 1,31 12,1 *"}, "cron"),  # 3 min over New Year
    ],
)
def test_invalid_specs_name_the_field(changes: dict[str, object], field: str) -> None:
    spec = RunSpec(**{**{f: getattr(SPEC, f) for f in SPEC.__struct_fields__}, **changes})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as info:
        runs.validate_spec(spec, load_registry())
    assert info.value.field == field


@pytest.mark.parametrize("cron", ["*/5 * * * *", "0 9 * * 1-5", "0 0 29 2 *", "@daily"])
def test_cron_patterns_at_least_five_minutes_apart_are_accepted(cron: str) -> None:
    runs.validate_spec(msgspec.structs.replace(SPEC, mode=RunMode.CONTINUOUS, cron=cron), load_registry())


async def test_a_run_is_stored_with_its_planning_job(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    queue = JobQueue(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "r@example.com", "password-r")
            run = await runs.create_run(session, queue, user.id or 0, SPEC)
        assert run.status == "planning"
        assert run.plan_job_id and run.plan_job_id.startswith(f"blog-gen-{user.id}-")
        job = await queue._queue.getJob(run.plan_job_id)
        assert job.name == "generate"
        assert job.data == {"version": 1, "userId": str(user.id), "runId": run.id}
        listed = await job_admin.list_jobs(queue, JobState.WAITING, owner=str(user.id))
        assert [item.id for item in listed.items] == [run.plan_job_id]  # indexed once, when reserved
    finally:
        await queue.close()
        await engine.dispose()


async def test_a_run_that_cannot_be_queued_leaves_nothing_behind(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    dead_redis = make_settings(
        f"redis://127.0.0.1:{free_port()}/0", tmp_path, database_url_env=sqlite_settings.database_url
    )
    engine = db.create_engine(sqlite_settings)
    queue = JobQueue(dead_redis)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "r@example.com", "password-r")
            with pytest.raises(Exception, match=r"(?i)connect"):
                await runs.create_run(session, queue, user.id or 0, SPEC)
            assert (await session.exec(select(GenerationRun))).all() == []
    finally:
        await queue.close()
        await engine.dispose()


async def test_a_run_start_holds_no_connection_while_it_waits_to_write(sqlite_settings: Settings) -> None:
    """A start that kept its reads' connection while queueing for the writes lock would starve the
    lock's holder of connections: a worker's SQLite pool is small and fixed."""
    engine = db.create_engine(sqlite_settings, pool_timeout_s=2, sqlite_pool_size=1)
    queue = JobQueue(sqlite_settings)
    sessions = db.session_factory(engine)
    spec = msgspec.structs.replace(SPEC, mode=RunMode.CONTINUOUS, interval_minutes=60)
    try:
        async with sessions() as session:
            user = await users.create_user(session, "r@example.com", "password-r")
            # As a start's checks read: the session now holds the one connection.
            await users.by_reference(session, str(user.id))
            async with db.writes(engine):
                start = asyncio.create_task(runs.create_run(session, queue, user.id or 0, spec))
                await asyncio.sleep(0.2)  # it is waiting for the lock now
                async with sessions() as writer:  # the lock's holder still gets the one connection
                    assert await writer.get(GenerationRun, 1) is None
            run = await start
        assert run.status == "running" and run.plan_job_id
    finally:
        await queue.close()
        await engine.dispose()


async def test_a_run_that_finishes_while_its_status_is_read_is_listed_once(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page reads active runs, then finished ones; on PostgreSQL each statement sees the latest
    commits, so a run that finished in between was listed twice."""
    engine = db.create_engine(db_settings)
    queue = JobQueue(db_settings)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            user = await users.create_user(session, "r@example.com", "password-r")
            run = await runs.create_run(session, queue, user.id or 0, SPEC)
        async with sessions() as session:
            read, statements = session.exec, 0

            async def exec_then_finish(statement: Any, *args: Any, **kwargs: Any) -> Any:
                nonlocal statements
                result = await read(statement, *args, **kwargs)
                statements += 1
                if statements == 2:  # the active runs' page is read: the run finishes now
                    async with sessions() as other:
                        row = await other.get(GenerationRun, run.id)
                        assert row is not None
                        row.status = RunStatus.COMPLETED
                        await other.commit()
                return result

            monkeypatch.setattr(session, "exec", exec_then_finish)
            page = await run_views.status_page(session, queue, db_settings, user.id or 0, run_id=run.id)
        assert statements >= 3 and [view.id for view in page.runs] == [run.id]
    finally:
        await queue.close()
        await engine.dispose()


def test_slugs_are_readable_ascii() -> None:
    assert posts.slugify("Amélie 2001") == "amelie-2001"
    assert posts.slugify("Spider-Man: Into the Spider-Verse 2018") == "spider-man-into-the-spider-verse-2018"
    assert posts.slugify("!!!") == "post"


async def test_one_post_per_title_and_unique_slugs(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            user_id = (await users.create_user(session, "p@example.com", "password-p")).id or 0

        def post(tmdb_id: int, media: MediaType = MediaType.MOVIE) -> NewPost:
            return NewPost(slug="dune-2021", title="Dune 2021", excerpt="e", body="b", tmdb_id=tmdb_id,
                           media_type=media, source=Source.POPULAR, model="offline", provider=Provider.OFFLINE,
                           user_id=user_id, run_id=None, job_id=f"j{tmdb_id}{media}")  # fmt: skip

        connections = db.SyncConnections(engine)
        slugs = []
        for tmdb_id, media in [(438631, MediaType.MOVIE), (438631, MediaType.TV), (999, MediaType.MOVIE)]:
            await connections.run(post_jobs.save_post, new := post(tmdb_id, media))
            slugs.append(new.slug)
        assert slugs == ["dune-2021", "dune-2021-2", "dune-2021-3"]
        with pytest.raises(Conflict, match="already has a post"):
            await connections.run(post_jobs.save_post, post(438631))
        connections.dispose()
        async with db.session_factory(engine)() as session:
            assert len((await session.exec(select(BlogPost))).all()) == 3
    finally:
        await engine.dispose()


async def test_titles_are_claimed_at_once_and_only_by_the_first_run(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            user_id = (await users.create_user(session, "c@example.com", "password-c")).id or 0
            first, second = (GenerationRun(user_id=user_id, model="offline", source="popular", media_type="movie",
                                           requested=2) for _ in range(2))  # fmt: skip
            session.add_all([first, second])
            await session.commit()
            movie, tv = MediaType.MOVIE, MediaType.TV
            got = await claims.claim_many(session, first.id or 0, [(movie, 1, "a-1"), (tv, 1, "a-2")])
            assert got == {(movie, 1), (tv, 1)}
            again = await claims.claim_many(session, second.id or 0, [(movie, 1, "b-1"), (movie, 2, "b-2")])
            assert again == {(movie, 2)}
            held = {
                (c.media_type, c.tmdb_id): c.run_id for c in (await session.exec(select(TitleClaim))).all()
            }
            assert held == {(movie, 1): first.id, (tv, 1): first.id, (movie, 2): second.id}
            assert await claims.claim_many(session, second.id or 0, []) == set()
    finally:
        await engine.dispose()
