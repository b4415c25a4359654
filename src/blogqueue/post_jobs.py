"""A post job's database work, the worker's hot path: one statement reads all it needs, one
transaction saves the post with its cost and counts it. SQLAlchemy Core on a plain connection, no
ORM session or model instances: building a statement, a session or a SQLModel instance costs more
than running the statement. The rest of the system keeps the models.

Each function takes a sync Connection: the worker runs it as one unit through `db.SyncConnections`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from blogqueue.errors import Conflict, NotFound
from blogqueue.models import (
    BlogPost,
    GenerationRun,
    PostStatus,
    ProviderKey,
    RunMode,
    RunStatus,
    UsageRecord,
    utcnow,
)
from blogqueue.posts import slugify
from blogqueue.providers import Provider
from blogqueue.titles import MediaType, Source, TitleDetails, TitleFacts

SLUG_ATTEMPTS = 20


class RunRef(NamedTuple):
    """What a post job needs of its run."""

    id: int
    user_id: int
    status: RunStatus
    model: str
    source: Source
    budget_usd: float | None


class PostRef(NamedTuple):
    """What a post job needs to know of a title's post written already."""

    id: int
    slug: str
    job_id: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    incomplete: bool


class PostJobFacts(NamedTuple):
    run: RunRef
    existing: PostRef | None  # the title's post, if one was written already
    ciphertexts: dict[Provider, str]  # the run's user's stored keys, still encrypted


class NewUsage(msgspec.Struct, kw_only=True):
    """A provider call's tokens and cost, to be charged: a UsageRecord row."""

    user_id: int
    run_id: int | None
    job_id: str
    model: str
    provider: Provider
    tokens_in: int
    tokens_out: int
    cost_usd: float
    outcome: str
    created_at: datetime = msgspec.field(default_factory=utcnow)


class NewPost(msgspec.Struct, kw_only=True):
    """A post to insert: a BlogPost row. `save_post` fills in its id, slug and what its job's calls cost."""

    slug: str
    title: str
    excerpt: str
    body: str
    tmdb_id: int
    media_type: MediaType
    source: Source
    model: str
    provider: Provider
    user_id: int
    run_id: int | None
    job_id: str
    poster_url: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    facts: dict[str, Any] = msgspec.field(default_factory=dict)
    status: PostStatus = PostStatus.DRAFT
    published_at: datetime | None = None
    incomplete: bool = False
    version: int = 1
    created_at: datetime = msgspec.field(default_factory=utcnow)
    id: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


def draft_for(run: RunRef, details: TitleDetails, *, model: str, provider: Provider, job_id: str) -> NewPost:
    """An unsaved post about a title for a run; `save_post` fills in what its job's calls cost."""
    year = f" {details.year}" if details.year else ""
    return NewPost(
        slug=slugify(f"{details.title}{year}"), title=f"{details.title}{year}", excerpt="", body="",
        tmdb_id=details.tmdb_id, media_type=details.media_type, poster_url=details.poster_url,
        facts=msgspec.to_builtins(TitleFacts.of(details)), source=run.source, model=model,
        provider=provider, user_id=run.user_id, run_id=run.id, job_id=job_id,
    )  # fmt: skip


class RunCounts(NamedTuple):
    """A run's counters as a post's or a call's transaction left them."""

    status: RunStatus
    mode: RunMode
    planned: int
    posts_done: int
    posts_failed: int
    cost_usd: float
    budget_usd: float | None

    @property
    def over_budget(self) -> bool:
        return self.budget_usd is not None and self.cost_usd >= self.budget_usd

    @property
    def all_done(self) -> bool:
        """Every planned post of a running batch is written or failed: time to finish it."""
        done = self.posts_done + self.posts_failed >= self.planned
        return self.mode == RunMode.BATCH and self.status == RunStatus.RUNNING and done


# Built once: a post is the worker's hot path, and building a statement costs more than running it.
_RUN_COLUMNS = [col(getattr(GenerationRun, name)) for name in RunRef._fields]
_POST_COLUMNS = [col(getattr(BlogPost, name)) for name in PostRef._fields]
_READ = (
    select(*_RUN_COLUMNS, *_POST_COLUMNS, col(ProviderKey.provider), col(ProviderKey.ciphertext))
    .select_from(GenerationRun)
    .outerjoin(
        BlogPost,
        and_(
            col(BlogPost.media_type) == bindparam("media_type"), col(BlogPost.tmdb_id) == bindparam("tmdb_id")
        ),
    )
    .outerjoin(ProviderKey, col(ProviderKey.user_id) == col(GenerationRun.user_id))
    .where(col(GenerationRun.id) == bindparam("run"))
)
_FIND_REF = select(*_POST_COLUMNS).where(
    col(BlogPost.media_type) == bindparam("media_type"), col(BlogPost.tmdb_id) == bindparam("tmdb_id")
)
_SPENT = {
    name: select(func.coalesce(func.sum(column), zero))
    .where(col(UsageRecord.job_id) == bindparam("spent_by"))
    .scalar_subquery()
    for name, column, zero in (
        ("tokens_in", UsageRecord.tokens_in, 0),
        ("tokens_out", UsageRecord.tokens_out, 0),
        ("cost_usd", UsageRecord.cost_usd, 0.0),
    )
}
_INSERT_POST = (
    insert(BlogPost)
    .values(_SPENT)
    .returning(col(BlogPost.id), col(BlogPost.tokens_in), col(BlogPost.tokens_out), col(BlogPost.cost_usd))
)
_INSERT_USAGE = insert(UsageRecord)
_COUNT = (
    update(GenerationRun)
    .where(col(GenerationRun.id) == bindparam("run"))
    .values(
        posts_done=GenerationRun.posts_done + bindparam("done"),
        tokens_in=GenerationRun.tokens_in + bindparam("add_in"),
        tokens_out=GenerationRun.tokens_out + bindparam("add_out"),
        cost_usd=GenerationRun.cost_usd + bindparam("add_cost"),
    )
    .returning(*(col(getattr(GenerationRun, name)) for name in RunCounts._fields))
)
_NO_USAGE = {"add_in": 0, "add_out": 0, "add_cost": 0.0}


def read(connection: Connection, run_id: int, media_type: MediaType, tmdb_id: int) -> PostJobFacts:
    """The run, the title's post if any, and the run's user's stored keys: one statement."""
    rows = connection.execute(_READ, {"run": run_id, "media_type": media_type, "tmdb_id": tmdb_id}).all()
    if not rows:
        raise NotFound(f"run {run_id} does not exist")
    first, runs_end, posts_end = rows[0], len(RunRef._fields), len(RunRef._fields) + len(PostRef._fields)
    existing = PostRef(*first[runs_end:posts_end]) if first[runs_end] is not None else None
    keys = {Provider(row[posts_end]): row[posts_end + 1] for row in rows if row[posts_end] is not None}
    return PostJobFacts(RunRef(*first[:runs_end]), existing, keys)


def find_post_ref(connection: Connection, media_type: MediaType, tmdb_id: int) -> PostRef | None:
    row = connection.execute(_FIND_REF, {"media_type": media_type, "tmdb_id": tmdb_id}).first()
    return PostRef(*row) if row is not None else None


def save_post(connection: Connection, post: NewPost, usage: NewUsage | None = None) -> RunCounts | None:
    """Insert the post with a unique slug and count it for its run, charging `usage` (its last
    provider call) to the run on the way: one transaction, committed. The post carries the tokens
    and cost of every call its job made, retries included. Returns the run's counters, if the
    transaction touched them. Raises Conflict if the title already has a post."""
    base = post.slug
    for attempt in range(SLUG_ATTEMPTS):
        post.slug = base if attempt == 0 else f"{base}-{attempt + 1}"
        try:
            counts = _insert(connection, post, usage)
            connection.commit()
        except IntegrityError as err:
            connection.rollback()
            if find_post_ref(connection, post.media_type, post.tmdb_id) is not None:
                raise Conflict(f"{post.media_type} {post.tmdb_id} already has a post") from err
            continue  # the slug was taken: try the next one
        return counts
    raise Conflict(f"no free slug for {base!r}")


def charge(connection: Connection, usage: NewUsage) -> RunCounts | None:
    """Charge a call whose answer is not saved (failed, or rejected) on its own, committed."""
    counts = _count(connection, usage, done=0)
    connection.commit()
    return counts


def _insert(connection: Connection, post: NewPost, usage: NewUsage | None) -> RunCounts | None:
    """Usage, run counters (one UPDATE, so parallel workers never lose an increment) and the post."""
    counts = None
    if post.run_id is not None and (usage is not None or not post.incomplete):
        counts = _count(connection, usage, done=int(not post.incomplete), run_id=post.run_id)
    values = msgspec.structs.asdict(post)
    for name in ("id", *_SPENT):
        del values[name]
    values["updated_at"] = values["created_at"]
    row = connection.execute(_INSERT_POST, values | {"spent_by": post.job_id}).one()
    post.id, post.tokens_in, post.tokens_out, post.cost_usd = row
    return counts


def _count(
    connection: Connection, usage: NewUsage | None, *, done: int, run_id: int | None = None
) -> RunCounts | None:
    increments = _NO_USAGE
    if usage is not None:
        connection.execute(_INSERT_USAGE, msgspec.structs.asdict(usage))
        increments = {"add_in": usage.tokens_in, "add_out": usage.tokens_out, "add_cost": usage.cost_usd}
        run_id = usage.run_id if run_id is None else run_id
    if run_id is None:
        return None
    row = connection.execute(_COUNT, {"run": run_id, "done": done, **increments}).first()
    return RunCounts(*row) if row is not None else None
