"""HTTP request and response schemas (msgspec), shared by the API and the `blogqueue` CLI client.

Wire schemas are separate from tables: rows never cross HTTP. Field names are camelCase on the
wire, as the seed's API has them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from blogqueue.jobqueue import JobSummary, LogEntry, QueueMetrics
from blogqueue.models import PostStatus
from blogqueue.payloads import RunParameters
from blogqueue.titles import MediaType
from blogqueue.users import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH
from blogqueue.waits import HoldUp

MAX_CLEAN_LIMIT = 10_000
MAX_PAGE = 1_000_000  # beyond any real listing; page * pageSize stays far inside every integer type
MAX_ROW_ID = 2**31 - 1  # row ids are INTEGER columns, 32-bit on PostgreSQL
MAX_GRACE_MS = 2**53 - 1  # BullMQ does its arithmetic in Lua doubles

RowId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ROW_ID)]


# -- generation runs --------------------------------------------------------------------------


class AutoGenerateRequest(RunParameters, forbid_unknown_fields=True, frozen=True):
    """The API takes exactly the run's parameters (a queued request also carries userId/version)."""


class CostEstimate(msgspec.Struct, rename="camel"):
    model: str
    posts: int  # per batch; per tick for a continuous run
    per_post_usd: float
    total_usd: float
    assumption: str


class StartedRun(msgspec.Struct, rename="camel"):
    run_id: int
    job_ids: list[str]
    status: str
    mode: str
    status_url: str
    events_url: str
    estimate: CostEstimate


class PostOutcome(msgspec.Struct, rename="camel"):
    job_id: str
    tmdb_id: int
    media_type: str
    state: str  # saved | failed | active | waiting | delayed | prioritized | cancelled
    title: str = ""
    slug: str | None = None
    reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    incomplete: bool = False


class RunView(msgspec.Struct, rename="camel"):
    id: int
    user_id: int
    state: Annotated[
        str,
        msgspec.Meta(
            description="planning | running | completed (every post written) | partial (some failed) | "
            "failed (nothing written) | cancelled"
        ),
    ]
    mode: str
    model: str
    source: str
    media_type: str
    requested: int
    planned: int
    done: int
    failed: int
    progress: float  # percent of planned posts finished (saved or failed)
    tokens_in: int
    tokens_out: int
    cost_usd: float
    released: int  # titles the run gave back to the pool unwritten
    budget_usd: float | None
    interval_minutes: int | None
    cron: str | None
    next_tick_at: int | None  # epoch ms of a continuous run's next planning job
    message: str
    created_at: datetime
    finished_at: datetime | None
    posts: list[PostOutcome]
    last_logs: list[LogEntry]  # oldest first


class StatusResponse(msgspec.Struct, rename="camel"):
    """One page of runs, active ones first, newest first; `total` counts every run the query covers."""

    runs: list[RunView]
    queue: QueueMetrics
    page: int = 1
    page_size: int = 10
    total: int = 0
    hold_ups: list[HoldUp] = msgspec.field(
        default_factory=list
    )  # why queued jobs wait, while a run is unfinished


class PostOutcomePage(msgspec.Struct, rename="camel"):
    """One page of a run's post jobs, in job id order, with what became of each."""

    items: list[PostOutcome]
    page: int
    page_size: int
    total: int


class StopRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    run_id: RowId | None = None  # without it: every active run of the caller (or of `userId`)
    user_id: RowId | None = None


class StopReport(msgspec.Struct, frozen=True, rename="camel"):
    run_id: int
    status: str
    removed: int  # waiting or delayed jobs taken off the queue
    cancelling: int  # active jobs being aborted
    already_stopped: bool = False
    released: int = 0  # unwritten titles given back to the pool (aborted jobs give theirs as they end)


class StopResponse(msgspec.Struct, rename="camel"):
    stopped: list[StopReport]


class ScheduleRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A continuous run's new schedule: exactly one of the two."""

    interval_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_ROW_ID)] | None = None
    cron: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class ScheduleView(msgspec.Struct, frozen=True, rename="camel"):
    run_id: int
    state: str  # running | paused
    interval_minutes: int | None
    cron: str | None


class RetryReport(msgspec.Struct, frozen=True, rename="camel"):
    run_id: int
    job_ids: list[str]  # the failed titles' post jobs, queued again
    skipped: int  # failed titles another run has claimed or written since


class BulkRetryReport(msgspec.Struct, frozen=True, rename="camel"):
    job_ids: list[str]  # queued again
    run_ids: list[int]  # runs whose failed titles were queued again
    still_failed: int  # failed jobs left: post jobs of unfinished runs, or titles taken since


# -- jobs and the queue -----------------------------------------------------------------------


class FinishedState(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


JobItem = JobSummary  # one job as the API lists it


class JobDetail(JobItem, frozen=True, kw_only=True):
    opts: dict[str, Any]
    attempts_started: int
    delay: int
    priority: int
    logs: list[str]
    log_count: int
    stacktrace: list[str]
    returnvalue: Any


class JobPage(msgspec.Struct, frozen=True, rename="camel"):
    items: list[JobItem]
    page: int
    page_size: int
    total: int  # jobs in this state that the listing covers, on every page


class CleanRequest(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    state: FinishedState
    grace_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_GRACE_MS)]  # only jobs finished longer ago than this
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_CLEAN_LIMIT)] = 1000


class CleanResult(msgspec.Struct, frozen=True):
    removed: list[str]


class Throughput(msgspec.Struct, frozen=True, rename="camel"):
    """Over the last hour: the current minute and the 59 before it, by the API server's clock."""

    completed_last_hour: Annotated[
        int, msgspec.Meta(description="Jobs completed in the current minute and the 59 before it")
    ]
    failed_last_hour: Annotated[
        int, msgspec.Meta(description="Jobs failed for good in that hour; a retried attempt is no failure")
    ]
    per_minute: Annotated[
        float, msgspec.Meta(description="completedLastHour / 60: average completions a minute over that hour")
    ]


class DayThroughput(msgspec.Struct, frozen=True, rename="camel"):
    """Jobs finished per hour over the last 24 hours, oldest first (BullMQ's metrics)."""

    completed: list[int]
    failed: list[int]
    peak: int  # the largest hourly count (at least 1): the chart's scale


class QueueReport(QueueMetrics, frozen=True, rename="camel"):
    """Job counts per state (now), plus last hour's throughput."""

    throughput: Throughput
    failure_rate: Annotated[
        float | None,
        msgspec.Meta(
            description="failed / (completed + failed) over the last hour, 0-1; null when none finished"
        ),
    ]


# -- errors -----------------------------------------------------------------------------------


class ErrorDetail(msgspec.Struct, frozen=True, omit_defaults=True):
    message: str
    field: Annotated[
        str | None,
        msgspec.Meta(description="The body field or the query/path parameter at fault, when there is one"),
    ] = None


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every error answer of the API: what went wrong, for a person, and the HTTP status again."""

    error: str
    status: int
    details: Annotated[
        list[ErrorDetail] | None, msgspec.Meta(description="One entry per bad field (422), when any")
    ] = None


# -- sign-in, health, posts -------------------------------------------------------------------


class Credentials(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=MAX_EMAIL_LENGTH)]
    password: Annotated[str, msgspec.Meta(max_length=MAX_PASSWORD_LENGTH)]


class TokenResponse(msgspec.Struct):
    token: str


class Readiness(msgspec.Struct):
    ready: bool
    redis: str
    database: str
    workers: int
    reasons: list[str]


class PostSummary(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    slug: str
    title: str
    excerpt: str
    tags: list[str]
    tmdb_id: int
    media_type: MediaType
    poster_url: str | None
    source: str
    model: str
    provider: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    status: PostStatus
    incomplete: bool  # cut short (cancelled, timed out): cannot be published
    user_id: int
    run_id: int | None
    created_at: datetime
    published_at: datetime | None


class Post(PostSummary, kw_only=True):
    body: str  # markdown
    version: int  # send it back with an edit: a stale one is refused (409)
    edited_at: datetime | None  # last changed by a person
    publish_at: datetime | None  # scheduled publication, if any


class PreviewIn(msgspec.Struct, rename="camel"):
    body: Annotated[str, msgspec.Meta(max_length=100_000)]


class Preview(msgspec.Struct, rename="camel"):
    html: str  # sanitized: safe to insert into a page


class ScheduleIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    publish_at: datetime  # with a time zone, in the future


class PostPage(msgspec.Struct, rename="camel"):
    items: list[PostSummary]
    page: int
    page_size: int
    total: int  # posts matching the filters, on every page
