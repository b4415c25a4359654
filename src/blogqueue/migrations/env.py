"""Alembic environment: runs migrations on the async engine named by the settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from blogqueue import db, models  # noqa: F401 - importing models registers every table
from blogqueue.settings import Settings

target_metadata = SQLModel.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds to alter
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run(settings: Settings) -> None:
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


settings: Settings = context.config.attributes.get("settings") or Settings()
asyncio.run(_run(settings))
