"""Shared fixtures: a real redis-server per session, a unique queue prefix and data dir per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
import redis
import uvicorn
from cryptography.fernet import Fernet
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.testing.transport import TestClientTransport
from sqlalchemy.engine import make_url

from blogqueue import db
from blogqueue.jobqueue import JobQueue
from blogqueue.settings import Settings
from blogworker.runner import WorkerRunner

REPO = Path(__file__).resolve().parent.parent
TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()
POSTGRES_URL_ENV = "BLOGQUEUE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: Path, port: int, *, aof: bool = False) -> subprocess.Popen[bytes]:
    """A real redis-server on its own port and dir; fails loudly if it cannot start."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run ./scripts/test, which installs it")
    directory.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
            "--appendonly", "yes" if aof else "no", "--appendfsync", "always"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    client.close()
    return process


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    stop_process(process)


def make_settings(redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url_env": redis_url,
        "data_dir": data_dir,
        "queue_prefix": f"t{uuid.uuid4().hex[:10]}",
        "limiter_max": 0,
        "shutdown_grace_s": 5,
        "log_format": "json",
        "database_url_env": None,
        "encryption_keys": TEST_ENCRYPTION_KEY,
        "secret_key": "test-session-secret-" + "x" * 32,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path / "data")


@pytest.fixture
async def job_queue(settings: Settings) -> AsyncIterator[JobQueue]:
    queue = JobQueue(settings)
    yield queue
    await queue.close()


class _OffLoopTransport(TestClientTransport[Any]):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await anyio.to_thread.run_sync(self.handle_request, request)


class ApiClient(AsyncTestClient[Litestar]):
    """Litestar's test client, except that the test's loop runs on while a request is served.

    The stock client waits for the app on the calling loop's thread, so a worker running on the
    test's loop freezes for the request's length: if it holds a row the request needs, neither
    moves (a hang on PostgreSQL, "database is locked" on SQLite).
    """

    def __init__(self, app: Litestar, raise_server_exceptions: bool = True) -> None:
        super().__init__(app, raise_server_exceptions=raise_server_exceptions)
        self._transport = _OffLoopTransport(client=self, raise_server_exceptions=raise_server_exceptions)


class RunningWorker:
    """A WorkerRunner serving on the test's event loop until `stop()`."""

    def __init__(self, settings: Settings, handlers: Any = None) -> None:
        self.runner = WorkerRunner(settings, handlers=handlers) if handlers else WorkerRunner(settings)
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(self.runner.serve(self.stop_event))

    async def stop(self) -> int:
        self.stop_event.set()
        return await asyncio.wait_for(self.task, timeout=30)


@pytest.fixture
async def start_worker() -> AsyncIterator[Any]:
    """Call with settings to start a worker on this loop; all are stopped at the end of the test."""
    started: list[RunningWorker] = []

    def start(settings: Settings, handlers: Any = None) -> RunningWorker:
        worker = RunningWorker(settings, handlers)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if not worker.task.done():
            with contextlib.suppress(Exception):
                await worker.stop()


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a `python -m blogworker` subprocess that matches these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOGQUEUE_", "REDIS_", "DATABASE_"))}
    env.update(
        {
            "REDIS_URL": settings.redis_url,
            "BLOGQUEUE_QUEUE_PREFIX": settings.queue_prefix,
            "BLOGQUEUE_DATA_DIR": str(settings.data_dir),
            "BLOGQUEUE_LIMITER_MAX": str(settings.limiter_max),
            "BLOGQUEUE_LOG_FORMAT": "json",
            "BLOGQUEUE_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        }
    )
    env.update(extra)
    return env


def spawn_worker(settings: Settings, log_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "blogworker"], env=worker_env(settings, **extra), cwd=REPO,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Await an async predicate until it returns something truthy, or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def create_postgres_database() -> str | None:
    """A fresh database on the PostgreSQL server; None (skip) only where CI did not ask for it."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    url = make_url(configured or DEFAULT_POSTGRES_URL)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        if configured:
            pytest.fail(f"{POSTGRES_URL_ENV}={configured} is unreachable: {err}")
        pytest.skip(f"no PostgreSQL at {url.render_as_string()} ({err}); set {POSTGRES_URL_ENV} to run these")
    name = f"bq_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = await asyncpg.connect(target.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False), timeout=5)  # fmt: skip
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_settings(
    request: pytest.FixtureRequest, redis_url: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    """Settings on a freshly migrated database: a SQLite file, or a new PostgreSQL database."""
    url = await create_postgres_database() if request.param == "postgresql" else None
    settings = make_settings(redis_url, tmp_path / "data", database_url_env=url)
    await asyncio.to_thread(db.migrate, settings)
    yield settings
    if url:
        await drop_postgres_database(url)


@pytest.fixture
async def sqlite_settings(redis_url: str, tmp_path: Path) -> Settings:
    """Settings on a freshly migrated SQLite file (for tests that are not about the database)."""
    settings = make_settings(redis_url, tmp_path / "data")
    await asyncio.to_thread(db.migrate, settings)
    return settings


@contextlib.contextmanager
def serve_app(settings: Settings) -> Iterator[str]:
    """The real API in a real HTTP server (uvicorn, own thread and loop); yields its base URL."""
    from webapi.app import create_app  # noqa: PLC0415 - only the tests that serve HTTP need it

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
