"""`blogqueue doctor`: the seed's troubleshooting list as checks, each with the fix to try."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from blogqueue import db
from blogqueue.connection import redis_client
from blogqueue.jobqueue import EnqueueOptions, JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName, JobState
from blogqueue.settings import Settings

SELFTEST_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Report(msgspec.Struct):
    ok: bool
    checks: list[Check]


async def _redis(settings: Settings) -> Check:
    url = settings.redis_display_url
    redis = redis_client(settings)
    try:
        server = await redis.info("server")
        persistence = await redis.info("persistence")
        rdb = bool((await redis.config_get("save")).get("save"))
    finally:
        await redis.aclose()
    aof = bool(int(persistence.get("aof_enabled", 0)))
    mode = "aof" if aof else "rdb" if rdb else "none"
    data = {"url": url, "version": server.get("redis_version"), "persistence": mode}
    detail = f"{url} (Redis {data['version']}, persistence: {mode})"
    if mode == "none":
        return Check("redis", True, detail + "; warning: jobs are lost if Redis restarts",
                     "enable AOF on that Redis (appendonly yes)", data)  # fmt: skip
    return Check("redis", True, detail, data=data)


async def _workers(queue: JobQueue) -> Check:
    workers = await queue.workers()
    count = len(workers)
    if count == 0:
        return Check("workers", False, "no live worker is connected to the queue",
                     "start one: '.venv/bin/blogworker', or './scripts/up' with BLOGQUEUE_WORKERS>=1",
                     {"count": 0})  # fmt: skip
    kinds = {
        str(kind): sum(1 for w in workers if w.kind == kind) for kind in sorted({w.kind for w in workers})
    }
    detail = f"{count} live worker(s): " + ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    return Check("workers", True, detail, data={"count": count, **kinds})


async def _selftest(queue: JobQueue) -> Check:
    fix = "check the worker logs for errors; restart the worker"
    job_id = f"doctor-{uuid.uuid4().hex}"
    started = time.perf_counter()
    await queue.enqueue(JobName.SELFTEST, SelfTest(note="doctor"), EnqueueOptions(job_id=job_id, attempts=1))
    deadline = started + SELFTEST_TIMEOUT_S
    while time.perf_counter() < deadline:
        job = await queue.get_job(job_id)
        if JobState(job.state).finished:
            ms = round((time.perf_counter() - started) * 1000, 1)
            if job.state == "failed":
                return Check("selftest", False, f"job {job_id} failed: {job.failed_reason}", fix, {"ms": ms})
            return Check("selftest", True, f"job {job_id} round trip in {ms} ms", data={"ms": ms})
        await asyncio.sleep(POLL_INTERVAL_S)
    await queue.cancel_job(job_id, "doctor gave up waiting")
    return Check("selftest", False, f"no worker finished job {job_id} within {SELFTEST_TIMEOUT_S:.0f} s", fix)


async def _database(settings: Settings) -> Check:
    engine = db.create_engine(settings)
    try:
        await db.ping(engine)
    finally:
        await engine.dispose()
    return Check("database", True, f"{engine.url.render_as_string(hide_password=True)} reachable")


async def _guard(name: str, fix: str, check: Callable[[], Awaitable[Check]]) -> Check:
    try:
        return await check()
    except Exception as err:  # noqa: BLE001 - a doctor reports failures, it does not crash
        return Check(name, False, f"{type(err).__name__}: {err}", fix)


async def diagnose(settings: Settings) -> Report:
    queue = JobQueue(settings)
    try:
        redis_fix = (f"start Redis ('./scripts/up' runs one) or fix REDIS_URL; "
                     f"test it with: redis-cli -u {settings.redis_display_url} ping")  # fmt: skip
        checks = [await _guard("redis", redis_fix, lambda: _redis(settings))]
        if checks[0].ok:
            checks.append(await _guard("workers", "start a worker", lambda: _workers(queue)))
            if checks[-1].ok:
                checks.append(await _guard("selftest", "check the worker logs", lambda: _selftest(queue)))
            else:
                checks.append(Check("selftest", False, "skipped: no worker to run it", checks[-1].fix))
        checks.append(await _guard("database", "check DATABASE_URL and that the database server runs",
                                   lambda: _database(settings)))  # fmt: skip
    finally:
        await queue.close()
    return Report(ok=all(c.ok for c in checks), checks=checks)


def render(report: Report) -> str:
    lines = []
    for check in report.checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<9} {check.detail}")
        if check.fix and not check.ok:
            lines.append(f"      {'':<9} fix: {check.fix}")
    lines.append("all checks passed" if report.ok else "some checks failed")
    return "\n".join(lines)
