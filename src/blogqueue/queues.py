"""Queue vocabulary: the queue name, job names and states, default options, every job id and
scheduler id format, and every Redis key BlogQueue writes besides BullMQ's own.

Everything BullMQ-shaped (camelCase option dicts) stays in this module, `jobqueue.py` and the
worker runner.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from blogqueue.errors import InvalidJob

QUEUE_NAME = "blog-generation"
MAX_PRIORITY = 2_097_151  # Node BullMQ rejects anything above this
MAX_SAFE_INTEGER = 2**53 - 1  # largest integer a JavaScript number holds exactly
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_MS = 1_000
KEEP_COMPLETED = 100
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_JOB_ID_LENGTH = 200
_MAX_EMAIL_LENGTH = 320
_MAX_LOOKUP_LENGTH = 1_024  # Node producers' ids may be longer than ours; a bound on key names all the same
# BullMQ's own keys beside the job hashes, `<prefix>:<queue>:<name>` (bullmq's QueueKeys, plus
# `metrics`): a job id equal to one would read or delete BullMQ's bookkeeping as if it were a job.
BULLMQ_KEY_NAMES = frozenset(
    {"active", "wait", "waiting-children", "paused", "completed", "failed", "delayed", "repeat", "stalled",
     "limiter", "prioritized", "id", "stalled-check", "meta", "pc", "events", "marker", "de", "metrics"}
)  # fmt: skip
_SCHEDULED_JOB_ID = re.compile(r"repeat:[^:]+(:[^:]+)*:\d+")  # a job scheduler's: repeat:<scheduler id>:<ms>
_JOB_HASH_FIELDS = ("name", "timestamp")  # every job hash BullMQ writes has these
_STREAM_ID = re.compile(r"(\d{1,20})(?:-(\d{1,20}))?")  # Redis: <ms>[-<seq>], each an unsigned 64-bit


class JobName(StrEnum):
    """The job types on the queue; Node producers use the same strings."""

    GENERATE = "generate"  # plan a run: pick titles, queue one generate-post per title
    GENERATE_POST = "generate-post"  # write one post
    SELFTEST = "selftest"
    PUBLISH_POST = "publish-post"  # publish a post at its scheduled time (a delayed job)


class JobState(StrEnum):
    """A job's state, as BullMQ names it."""

    WAITING = "waiting"
    ACTIVE = "active"
    DELAYED = "delayed"
    PRIORITIZED = "prioritized"
    COMPLETED = "completed"
    FAILED = "failed"
    WAITING_CHILDREN = "waiting-children"

    @property
    def pending(self) -> bool:
        """Not started yet: a cancel removes it from the queue."""
        return self not in {JobState.ACTIVE, JobState.COMPLETED, JobState.FAILED}

    @property
    def finished(self) -> bool:
        return self in {JobState.COMPLETED, JobState.FAILED}


class WorkerKind(StrEnum):
    PYTHON = "python"
    NODE = "node"


PYTHON_WORKER_PREFIX = "blogworker-"  # how our workers' names begin, so others can tell them from Node's


def worker_connection_name(prefix: str, worker_name: str = "") -> str:
    """The name a worker gives its blocking Redis connection, as Node BullMQ names it (base64 of the
    queue name): what Node's getWorkers() and bull-board look for."""
    encoded = base64.b64encode(QUEUE_NAME.encode()).decode()
    return f"{prefix}:{encoded}" + (f":w:{worker_name}" if worker_name else "")


LISTED_STATES = [state for state in JobState if state is not JobState.WAITING_CHILDREN]  # we add no flows


def make_job_id(user_id: str, epoch_ms: int | None = None) -> str:
    """The seed's id form, `blog-gen-<userId>-<epochMillis>`."""
    validate_user_id(user_id)
    return f"blog-gen-{user_id}-{epoch_ms if epoch_ms is not None else int(time.time() * 1000)}"


def plan_id(job_id: str) -> str:
    """A planning job's id as a prefix of its post jobs' ids (scheduler job ids contain ':')."""
    return job_id.replace(":", "-")


def post_job_id(plan: str, media_type: str, tmdb_id: int) -> str:
    """One post job per run and title: re-adding it after a planning retry is a no-op."""
    return f"{plan}-{media_type}-{tmdb_id}"


_POST_JOB_ID = re.compile(r"-(movie|tv)-\d+$")


def is_post_job_id(job_id: str) -> bool:
    """Whether `post_job_id` made this id (a planning job's has no media type and title)."""
    return _POST_JOB_ID.search(job_id) is not None


def publish_job_id(post_id: int, at_ms: int) -> str:
    """One job per post and publication time: a rescheduled post gets a new job, the old one finds
    its time gone and does nothing."""
    return f"publish-post-{post_id}-{at_ms}"


def scheduler_id(run_id: int) -> str:
    """The BullMQ job scheduler of a continuous run."""
    return f"run-{run_id}"


def validate_user_id(user_id: str) -> None:
    if not USER_ID_PATTERN.fullmatch(user_id):
        raise InvalidJob(f"user id {user_id!r} must be 1-64 letters, digits, '.', '_' or '-'", field="userId")


def job_owner(user_id: object) -> str | None:
    """Whom a job's `userId` names, as its per-user index knows them: a user id, or an email
    (lower case; a queued request may name its user so). None if it names nobody we index."""
    if not isinstance(user_id, str):
        return None
    if "@" in user_id and len(user_id) <= _MAX_EMAIL_LENGTH and " " not in user_id:
        return user_id.strip().lower()
    return user_id if USER_ID_PATTERN.fullmatch(user_id) else None


def validate_job_id(job_id: str) -> None:
    """Reject what Node BullMQ rejects; the Python client would accept it and collide or overwrite."""
    if not job_id or len(job_id) > _MAX_JOB_ID_LENGTH:
        raise InvalidJob(f"job id must be 1-{_MAX_JOB_ID_LENGTH} characters", field="jobId")
    if ":" in job_id:
        raise InvalidJob("job id cannot contain ':'", field="jobId")
    try:
        is_integer = str(int(job_id, 10)) == job_id
    except ValueError:
        is_integer = False
    if is_integer:
        raise InvalidJob("job id cannot be an integer: it would collide with automatic ids", field="jobId")


def is_job_id(candidate: str) -> bool:
    """Whether BullMQ could have made or accepted this job id: an automatic (integer) id, a custom
    id (no ':'), or a job scheduler's `repeat:<scheduler id>:<ms>`, never one of BullMQ's key names.
    Ids from outside pass this before they become part of a Redis key name."""
    if not 0 < len(candidate) <= _MAX_LOOKUP_LENGTH or candidate in BULLMQ_KEY_NAMES:
        return False
    return ":" not in candidate or _SCHEDULED_JOB_ID.fullmatch(candidate) is not None


def is_job_hash(fields: Mapping[str, Any]) -> bool:
    """Whether a hash read at a job's key holds a job (and not some other hash stored there)."""
    return all(field in fields for field in _JOB_HASH_FIELDS)


def is_stream_id(candidate: str) -> bool:
    """Whether a client's position in the event stream (an SSE Last-Event-ID) is one Redis can read from."""
    found = _STREAM_ID.fullmatch(candidate)
    return found is not None and all(int(part or 0) < 2**64 for part in found.groups())


def validate_priority(priority: int) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise InvalidJob(f"priority must be an integer from 0 to {MAX_PRIORITY}", field="priority")


def ensure_json_safe(value: Any, path: str = "data") -> None:
    """Job data must read the same in Node: integers within 2^53, no NaN or infinity."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidJob(f"{path} is an integer beyond 2^53, which JavaScript cannot hold exactly")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidJob(f"{path} is NaN or infinite, which JSON cannot carry")
    elif isinstance(value, dict):
        for key, item in value.items():
            ensure_json_safe(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            ensure_json_safe(item, f"{path}[{index}]")
    else:
        raise InvalidJob(f"{path} has a {type(value).__name__}, which is not JSON")


def job_options(
    *,
    job_id: str,
    priority: int | None = None,
    delay_ms: int = 0,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_ms: int = DEFAULT_BACKOFF_MS,
) -> dict[str, Any]:
    """BullMQ job options with the seed's defaults, validated as Node would."""
    validate_job_id(job_id)
    if attempts < 1:
        raise InvalidJob("attempts must be at least 1", field="attempts")
    if delay_ms < 0:
        raise InvalidJob("delay must not be negative", field="delay")
    opts: dict[str, Any] = {
        "jobId": job_id,
        "attempts": attempts,
        "backoff": {"type": "exponential", "delay": backoff_ms},
        "removeOnComplete": KEEP_COMPLETED,
        "removeOnFail": False,
    }
    if priority is not None:
        validate_priority(priority)
        opts["priority"] = priority
    if delay_ms:
        opts["delay"] = delay_ms
    return opts


class Keys:
    """Every Redis key and channel BlogQueue writes besides BullMQ's own, namespaced by the BullMQ
    prefix: `blogqueue:<prefix>:<queue>:<purpose>` for the queue's, `blogqueue:<prefix>:<purpose>`
    for the deployment's (sessions, sign-in, provider cooldowns)."""

    def __init__(self, prefix: str) -> None:
        self.app = f"blogqueue:{prefix}"
        self.base = f"{self.app}:{QUEUE_NAME}"
        self.events = f"{prefix}:{QUEUE_NAME}:events"  # BullMQ's event stream, which run events share

    def user_jobs(self, user_id: str) -> str:
        return f"{self.base}:user-jobs:{user_id}"

    @property
    def indexed_until(self) -> str:
        """The event stream entry up to which jobs added by any producer are in the user indexes."""
        return f"{self.base}:indexed-until"

    def run_jobs(self, run_id: int) -> str:
        """Every job id of a run (planning and posts), so a stop can find them."""
        return f"{self.base}:run-jobs:{run_id}"

    def queued_posts(self, user_id: str) -> str:
        """How many post jobs of a user wait to start: the basis of fair priorities."""
        return f"{self.base}:queued-posts:{user_id}"

    def run_logs(self, run_id: int) -> str:
        """A run's newest log lines, newest first, capped: what a status page shows without
        scanning the shared event stream."""
        return f"{self.base}:run-logs:{run_id}"

    def worker(self, name: str) -> str:
        """A worker process's heartbeat: host, pid, concurrency, its current jobs; expires with it."""
        return f"{self.base}:worker:{name}"

    @property
    def cancel_marks(self) -> str:
        """Hash of job id -> {"reason", "at"} for jobs cancelled while active (or about to be)."""
        return f"{self.base}:cancel-marks"

    @property
    def cancel_channel(self) -> str:
        return f"{self.base}:cancel"

    def cooldown(self, provider: str) -> str:
        """Set while a provider rate-limits us; expires when it said to come back."""
        return f"{self.app}:cooldown:{provider}"

    @property
    def blog_version(self) -> str:
        """Moves on whenever a post's public face may change: public pages kept in memory are
        served only while it has not moved."""
        return f"{self.app}:blog-version"

    @property
    def posts_version(self) -> str:
        """Moves on whenever any post is written, edited, published or deleted: post lists kept in
        memory are served only while it has not moved."""
        return f"{self.base}:posts-version"

    def runs_version(self, user_id: str) -> str:
        """Moves on whenever one of a user's runs changes (each run event, a start, a schedule
        change, a retry): status pages kept in memory are served only while it has not moved."""
        return f"{self.base}:runs-version:{user_id}"

    def revoked_token(self, jti: str) -> str:
        """A signed-out session token, kept until it would have expired."""
        return f"{self.app}:revoked-token:{jti}"

    def session_generation(self, user_id: int) -> str:
        """A user's session generation: tokens issued in an older one are refused (see sessions.py)."""
        return f"{self.app}:session-generation:{user_id}"

    def login_failures(self, kind: str, value: str) -> str:
        """Failed sign-ins per `email` or per client `address`."""
        return f"{self.app}:login-failures:{kind}:{value}"
