from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from blogqueue import db
from blogqueue.models import (
    BlogPost,
    CallOutcome,
    GenerationRun,
    PostStatus,
    ProviderKey,
    Role,
    RunMode,
    RunStatus,
    TitleClaim,
    UsageRecord,
    User,
)
from blogqueue.providers import Provider
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source, TrendingWindow


async def _raw(engine: AsyncEngine, sql: str) -> tuple[object, ...]:
    """The row as the database holds it, past the ORM's types."""
    async with engine.connect() as connection:
        return tuple((await connection.execute(text(sql))).one())


async def test_enum_columns_store_values_and_read_back_members(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            user = User(email="e@example.com", password_hash="h", role=Role.ADMIN)
            session.add(user)
            await session.commit()
            run = GenerationRun(user_id=user.id, model="offline", source=Source.TOP_RATED,
                                media_type=MediaType.TV, requested=1)  # fmt: skip
            session.add(run)
            await session.commit()
            session.add_all([
                ProviderKey(user_id=user.id, provider=Provider.OPENAI, ciphertext="c", last4="1234"),
                TitleClaim(media_type=MediaType.TV, tmdb_id=7, run_id=run.id, job_id="j"),
                BlogPost(slug="s", title="t", excerpt="e", body="b", tmdb_id=7, media_type=MediaType.TV,
                         source=Source.TOP_RATED, model="offline", provider=Provider.OFFLINE,
                         status=PostStatus.PUBLISHED, user_id=user.id, run_id=run.id, job_id="j"),
                UsageRecord(user_id=user.id, run_id=run.id, job_id="j", model="offline",
                            provider=Provider.OFFLINE, outcome=CallOutcome.FAILED),
            ])  # fmt: skip
            await session.commit()

        async with sessions() as session:  # a new session: every value comes from the database
            run = await session.get(GenerationRun, run.id)
            assert isinstance(run.status, RunStatus)
            assert (run.status, run.mode, run.source, run.media_type, run.trending_window) == (
                RunStatus.PLANNING, RunMode.BATCH, Source.TOP_RATED, MediaType.TV, TrendingWindow.WEEK
            )  # fmt: skip
            assert all(
                type(value) is kind
                for value, kind in [(run.status, RunStatus), (run.mode, RunMode), (run.source, Source),
                                    (run.media_type, MediaType), (run.trending_window, TrendingWindow)]
            )  # fmt: skip
            assert type((await session.get(User, user.id)).role) is Role
            assert type((await session.get(TitleClaim, (MediaType.TV, 7))).media_type) is MediaType
            post = (await session.exec(select(BlogPost))).one()
            assert (type(post.status), type(post.provider), type(post.source), type(post.media_type)) == (
                PostStatus, Provider, Source, MediaType
            )  # fmt: skip
            usage = (await session.exec(select(UsageRecord))).one()
            assert (type(usage.provider), type(usage.outcome)) == (Provider, CallOutcome)
            assert type((await session.exec(select(ProviderKey))).one().provider) is Provider

        stored = [
            await _raw(
                engine, "SELECT status, mode, source, media_type, trending_window FROM generation_runs"
            ),
            await _raw(engine, "SELECT role FROM users"),
            await _raw(engine, "SELECT provider FROM provider_keys"),
            await _raw(engine, "SELECT media_type FROM title_claims"),
            await _raw(engine, "SELECT status, provider, source, media_type FROM blog_posts"),
            await _raw(engine, "SELECT provider, outcome FROM usage_records"),
        ]
        assert stored == [
            ("planning", "batch", "top_rated", "tv", "week"),
            ("admin",),
            ("openai",),
            ("tv",),
            ("published", "offline", "top_rated", "tv"),
            ("offline", "failed"),
        ]
        assert all(type(value) is str for row in stored for value in row)
    finally:
        await engine.dispose()


async def test_the_migrated_schema_is_the_models_schema(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
