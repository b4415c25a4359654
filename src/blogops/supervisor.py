"""`blogqueue up`: run Redis (embedded unless configured), the API and N workers as one unit.

Children run in their own sessions so a terminal Ctrl-C reaches only us: we stop the API and
workers first (workers finish active jobs), Redis last, and leave no process behind. A child
that dies is restarted with backoff; if we die, the kernel sends them SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
import redis.asyncio as aioredis
import structlog

from blogops.bootstrap import prepare
from blogops.embedded_redis import port_in_use, redis_server_command
from blogqueue.connection import redis_client
from blogqueue.errors import BlogQueueError, Unavailable
from blogqueue.settings import Settings

log = structlog.get_logger("blogqueue.up")

STARTUP_TIMEOUT_S = 30.0
RESTART_BACKOFF_MAX_S = 30.0
STOP_EXTRA_S = 10.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: list[str]
    stop_timeout_s: float
    env: dict[str, str] | None = None  # added to the supervisor's own environment
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)

    async def start(self) -> None:
        env = {**os.environ, **self.env} if self.env else None
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, start_new_session=True, preexec_fn=_die_with_parent, env=env
        )
        self.started_at = time.monotonic()
        log.info("process_started", process=self.name, pid=self.process.pid)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), self.stop_timeout_s)
        except TimeoutError:
            log.warning("process_killed", process=self.name, pid=self.process.pid)
            self.process.kill()
            await self.process.wait()
        log.info("process_stopped", process=self.name, code=self.process.returncode)


def _metrics_port(base: int | None, n: int) -> dict[str, str] | None:
    """Worker n serves its metrics on base + n: one port per process (0 lets each pick one)."""
    if not base:
        return None
    return {"BLOGQUEUE_WORKER_METRICS_PORT": str(base + n)}


class Supervisor:
    def __init__(self, settings: Settings, sign_in: list[str] | None = None) -> None:
        self.settings = settings
        self.sign_in = sign_in or []
        self.stopping = asyncio.Event()
        grace = settings.shutdown_grace_s + STOP_EXTRA_S
        self.redis: Child | None = None
        if settings.redis_embedded:
            self.redis = Child("redis", redis_server_command(settings), stop_timeout_s=30.0)
        api = [sys.executable, "-m", "uvicorn", "webapi.app:create_app", "--factory",
               "--host", settings.host, "--port", str(settings.port), "--no-access-log",
               "--workers", str(settings.api_workers)]  # fmt: skip
        self.apps = [Child("api", api, stop_timeout_s=STOP_EXTRA_S)] + [
            Child(
                f"worker-{n + 1}",
                [sys.executable, "-m", "blogworker"],
                stop_timeout_s=grace,
                env=_metrics_port(settings.worker_metrics_port, n),
            )
            for n in range(settings.workers)
        ]

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        try:
            await self._start_all()
            self._print_banner()
            await self._watch()
            return 0
        finally:
            await self._stop_all()

    async def _start_all(self) -> None:
        if port_in_use(self.settings.host, self.settings.port):
            raise Unavailable(
                f"port {self.settings.port} is already in use: stop what runs there or set BLOGQUEUE_PORT"
            )
        if self.redis is not None:
            if port_in_use("127.0.0.1", self.settings.embedded_redis_port):
                raise Unavailable(
                    f"port {self.settings.embedded_redis_port} is taken, so the embedded "
                    "Redis cannot start: set BLOGQUEUE_REDIS_PORT or REDIS_URL"
                )
            await self.redis.start()
        await self._wait_for_redis()
        for child in self.apps:
            await child.start()
        await self._wait_for_api()

    async def _wait_for_redis(self) -> None:
        client: aioredis.Redis = redis_client(self.settings)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        try:
            while True:
                try:
                    await client.ping()
                    return
                except Exception as err:
                    if time.monotonic() > deadline or self.stopping.is_set():
                        raise Unavailable(
                            f"Redis at {self.settings.redis_display_url} did not answer: {err}"
                        ) from err
                    await asyncio.sleep(0.2)
        finally:
            await client.aclose()

    async def _wait_for_api(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline and not self.stopping.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        if not self.stopping.is_set():
            raise Unavailable(f"the API did not start on {self.base_url}; see the log above")

    def _print_banner(self) -> None:
        redis_note = "embedded, AOF in " + str(self.settings.redis_data_dir) if self.redis else "external"
        print(
            f"\nBlogQueue is running.\n"
            f"  API          {self.base_url}\n"
            f"  API docs     {self.base_url}/schema/swagger\n"
            f"  OpenAPI      {self.base_url}/schema/openapi.json\n"
            f"  Ready check  {self.base_url}/readyz\n"
            f"  Redis        {self.settings.redis_display_url} ({redis_note})\n"
            f"  Database     {self.settings.database_url.split('://')[0]}\n"
            f"  Workers      {self.settings.workers}\n"
            f"  Diagnose     .venv/bin/blogqueue doctor\n"
            + "".join(f"{line}\n" for line in self.sign_in)
            + "Press Ctrl-C (or send SIGTERM) to stop everything.\n",
            flush=True,
        )

    async def _watch(self) -> None:
        """Restart any child that exits, with backoff, until asked to stop."""
        children = [c for c in [self.redis, *self.apps] if c is not None]
        while not self.stopping.is_set():
            waits = {asyncio.create_task(c.process.wait()): c for c in children if c.process}
            stop_task = asyncio.create_task(self.stopping.wait())
            done, pending = await asyncio.wait({stop_task, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in done - {stop_task}:
                if not self.stopping.is_set():
                    await self._restart(waits[task])

    async def _restart(self, child: Child) -> None:
        code = child.process.returncode if child.process else None
        ran_for = time.monotonic() - child.started_at
        child.restarts = 0 if ran_for > RESTART_BACKOFF_MAX_S else child.restarts + 1
        delay = min(RESTART_BACKOFF_MAX_S, 0.5 * 2**child.restarts)
        log.error("process_exited", process=child.name, code=code, restart_in_s=delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), delay)
        if not self.stopping.is_set():
            await child.start()

    async def _stop_all(self) -> None:
        log.info("stopping")
        await asyncio.gather(*(child.stop() for child in self.apps))
        if self.redis is not None:
            await self.redis.stop()
        log.info("stopped")


def run_up(settings: Settings) -> int:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        sign_in = prepare(settings)
        return asyncio.run(Supervisor(settings, sign_in).run())
    except BlogQueueError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    except subprocess.SubprocessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
