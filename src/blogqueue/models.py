"""Database tables (SQLModel). Rows stay inside the core: wire schemas are separate."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import JSON, Column, DateTime, Enum, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from blogqueue.providers import Provider
from blogqueue.titles import MediaType, Source, TrendingWindow


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


def _timestamp() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False)


E = TypeVar("E", bound=StrEnum)


def enum_column(kind: type[E], length: int, **kw: Any) -> Column[E]:
    """A column of the members' values, read back as members. Still the VARCHAR(length) the
    migrations made (no native type, no CHECK), so a new member needs no migration."""
    values = Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],  # not names: rows hold values
        validate_strings=True,
    )
    return Column(values, nullable=False, **kw)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: Role = Field(default=Role.USER, sa_column=enum_column(Role, 16))
    preferred_ai_model: str = Field(default="offline", max_length=100)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ProviderKey(SQLModel, table=True):
    """One user's key for one provider, encrypted; `last4` lets people recognise it."""

    __tablename__ = "provider_keys"
    __table_args__ = (UniqueConstraint("user_id", "provider", name="uq_provider_keys_user_provider"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    provider: Provider = Field(sa_column=enum_column(Provider, 16))  # one that needs a key (`keyed()`)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    last4: str = Field(max_length=4)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class RunStatus(StrEnum):
    PLANNING = "planning"  # choosing titles
    RUNNING = "running"  # post jobs queued or active
    PAUSED = "paused"  # a continuous run whose scheduler is off until resumed
    COMPLETED = "completed"  # every planned post written
    PARTIAL = "partial"  # finished with some posts written and some failed
    FAILED = "failed"  # nothing written: every post failed, no title matched, or planning failed
    CANCELLED = "cancelled"


class RunMode(StrEnum):
    BATCH = "batch"  # one set of N posts
    CONTINUOUS = "continuous"  # a BullMQ job scheduler plans N more posts every tick until stopped


class PostStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class GenerationRun(SQLModel, table=True):
    """One request to write N posts; each post is its own job with its own retries."""

    __tablename__ = "generation_runs"
    __table_args__ = (
        Index("ix_generation_runs_user_id_id", "user_id", "id"),  # newest-first pages
        Index("ix_generation_runs_user_id_status_id", "user_id", "status", "id"),  # a user's active runs
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    model: str = Field(max_length=100)
    source: Source = Field(sa_column=enum_column(Source, 32))
    media_type: MediaType = Field(sa_column=enum_column(MediaType, 8))
    requested: int
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    trending_window: TrendingWindow = Field(
        default=TrendingWindow.WEEK, sa_column=enum_column(TrendingWindow, 8)
    )
    mode: RunMode = Field(default=RunMode.BATCH, sa_column=enum_column(RunMode, 16))
    interval_minutes: int | None = None  # continuous: every N minutes...
    cron: str | None = Field(default=None, max_length=100)  # ...or on a cron pattern
    budget_usd: float | None = None  # stop the run once its cost reaches this
    priority: int | None = None
    status: RunStatus = Field(default=RunStatus.PLANNING, sa_column=enum_column(RunStatus, 16, index=True))
    plan_job_id: str | None = Field(default=None, max_length=200)
    # A run a queued request created: "<job id>@<added at ms>", so a retried job finds it again.
    request_key: str | None = Field(default=None, max_length=300, unique=True, index=True)
    planned: int = 0  # titles found and queued
    posts_done: int = 0
    posts_failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    released: int = 0  # claimed titles handed back to the pool unwritten (stop, budget, failures)
    message: str = Field(default="", sa_column=Column(Text, nullable=False))  # why it ended, for people
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class TitleClaim(SQLModel, table=True):
    """A title reserved by a run, so parallel runs and workers never write it twice."""

    __tablename__ = "title_claims"

    media_type: MediaType = Field(sa_column=enum_column(MediaType, 8, primary_key=True))
    tmdb_id: int = Field(primary_key=True)
    run_id: int = Field(foreign_key="generation_runs.id", index=True, ondelete="CASCADE")
    job_id: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class PostFailure(SQLModel, table=True):
    """A run's title whose post failed for good, and why: the run's record after the job is gone."""

    __tablename__ = "post_failures"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="generation_runs.id", index=True, ondelete="CASCADE")
    job_id: str = Field(max_length=200)
    media_type: MediaType = Field(sa_column=enum_column(MediaType, 8))
    tmdb_id: int
    title: str = Field(default="", max_length=300)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class BlogPost(SQLModel, table=True):
    __tablename__ = "blog_posts"
    __table_args__ = (
        UniqueConstraint("media_type", "tmdb_id", name="uq_blog_posts_title"),
        Index("ix_blog_posts_created_at_id", "created_at", "id"),  # newest-first pages
        Index("ix_blog_posts_status_published_at_id", "status", "published_at", "id"),  # the public blog
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=200, unique=True, index=True)
    title: str = Field(max_length=300)
    excerpt: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))  # markdown
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    facts: dict[str, Any] = Field(  # the title's TitleFacts, as TMDb gave them when it was written
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default=text("'{}'"))
    )
    tmdb_id: int
    media_type: MediaType = Field(sa_column=enum_column(MediaType, 8))
    poster_url: str | None = Field(default=None, max_length=500)
    source: Source = Field(sa_column=enum_column(Source, 32))
    model: str = Field(max_length=100)
    provider: Provider = Field(sa_column=enum_column(Provider, 16))
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0  # every attempt at this post, retries included
    status: PostStatus = Field(default=PostStatus.DRAFT, sa_column=enum_column(PostStatus, 16, index=True))
    incomplete: bool = False  # cut short (cancelled, timed out): kept as a draft
    user_id: int = Field(foreign_key="users.id", index=True)
    run_id: int | None = Field(
        default=None, foreign_key="generation_runs.id", index=True, ondelete="SET NULL"
    )
    job_id: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1  # rises with every edit: a save naming an older version is refused
    edited_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    publish_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))  # scheduled


class CallOutcome(StrEnum):
    """How a provider call ended; a failed one is recorded when it had used tokens."""

    OK = "ok"
    FAILED = "failed"


class UsageRecord(SQLModel, table=True):
    """Tokens and cost of one provider call, failed or retried ones included."""

    __tablename__ = "usage_records"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    run_id: int | None = Field(
        default=None, foreign_key="generation_runs.id", index=True, ondelete="SET NULL"
    )
    job_id: str = Field(max_length=200, index=True)
    model: str = Field(max_length=100)
    provider: Provider = Field(sa_column=enum_column(Provider, 16))
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    outcome: CallOutcome = Field(sa_column=enum_column(CallOutcome, 16))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
