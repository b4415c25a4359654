"""Shared set-up for pipeline tests: fake TMDb and AI servers, a user with a key, runs to wait on."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import select

from blogfakes.tmdb_server import API_KEY
from blogqueue import ai_settings, claims, db, runs, users
from blogqueue.ai_settings import AiSettingsUpdate
from blogqueue.crypto import KeyCipher
from blogqueue.jobqueue import JobQueue
from blogqueue.models import BlogPost, GenerationRun
from blogqueue.registry import load_registry
from blogqueue.runs import RunSpec
from blogqueue.settings import Settings
from blogqueue.titles import MediaType, Source
from tests.conftest import make_settings

FINISHED = {"completed", "partial", "failed", "cancelled"}


def pipeline_settings(
    redis_url: str, data_dir: Path, tmdb_url: str | None, ai_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "openai_base_url": f"{ai_url}/v1",
        "anthropic_base_url": ai_url,
        "gemini_base_url": ai_url,
        "provider_timeout_s": 3.0,
        "worker_concurrency": 4,
        "tmdb_api_key": API_KEY if tmdb_url else None,
        "tmdb_base_url": tmdb_url or "http://127.0.0.1:9/3",
    }
    return make_settings(redis_url, data_dir, **(values | overrides))


@dataclass
class Pipeline:
    settings: Settings
    queue: JobQueue
    user_id: int

    async def session_do(self, fn: Any) -> Any:
        engine = db.create_engine(self.settings)
        try:
            async with db.session_factory(engine)() as session:
                return await fn(session)
        finally:
            await engine.dispose()

    async def set_key(self, **keys: str) -> None:
        async def save(session: Any) -> None:
            user = await session.get(users.User, self.user_id)
            cipher = KeyCipher.from_settings(self.settings)
            await ai_settings.update_ai_settings(
                session, cipher, load_registry(), user, AiSettingsUpdate(**keys)
            )

        await self.session_do(save)

    async def start_run(self, model: str, count: int, media: MediaType = MediaType.MOVIE,
                        source: Source = Source.POPULAR) -> int:  # fmt: skip
        spec = RunSpec(model=model, source=source, media_type=media, count=count)

        async def create(session: Any) -> int:
            run = await runs.create_run(session, self.queue, self.user_id, spec)
            return run.id or 0

        run_id: int = await self.session_do(create)
        return run_id

    async def run(self, run_id: int) -> GenerationRun:
        run: GenerationRun = await self.session_do(lambda session: runs.get_run(session, run_id))
        return run

    async def wait_finished(self, run_id: int, timeout: float = 60) -> GenerationRun:
        deadline = time.monotonic() + timeout
        while True:
            run = await self.run(run_id)
            if run.status in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run.status} after {timeout} s: {run}")
            await asyncio.sleep(0.1)

    async def claims(self, run_id: int) -> set[tuple[str, int]]:
        async def load(session: Any) -> set[tuple[str, int]]:
            return {(c.media_type, c.tmdb_id) for c in await claims.claims_of(session, run_id)}

        found: set[tuple[str, int]] = await self.session_do(load)
        return found

    async def posts(self, run_id: int | None = None) -> list[BlogPost]:
        async def load(session: Any) -> list[BlogPost]:
            query = select(BlogPost) if run_id is None else select(BlogPost).where(BlogPost.run_id == run_id)
            return list((await session.exec(query)).all())

        found: list[BlogPost] = await self.session_do(load)
        return found

    async def post_jobs(self, run_id: int) -> list[Any]:
        run = await self.run(run_id)
        jobs = await self.queue._queue.getJobs(
            ["completed", "failed", "active", "waiting", "delayed", "prioritized"]
        )
        return [job for job in jobs if str(job.id).startswith(f"{run.plan_job_id}-")]


async def open_pipeline(settings: Settings) -> Pipeline:
    await asyncio.to_thread(db.migrate, settings)
    queue = JobQueue(settings)
    engine = db.create_engine(settings)
    async with db.session_factory(engine)() as session:
        user = await users.create_user(session, "writer@example.com", "password-w")
    await engine.dispose()
    return Pipeline(settings, queue, user.id or 0)
