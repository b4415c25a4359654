"""`blogqueue login | generate | stop | status`, run as a person would, against the real API served by
uvicorn on a free port and a real worker; plus the SSE reader against a connection that drops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from blogfakes.ai_server import start_fake_ai
from blogops.client import TOKEN_FILE, Api, EventFeed, parse_sse
from blogqueue import db, users
from blogqueue.models import Role
from blogqueue.settings import Settings
from tests.conftest import REPO, free_port, make_settings, worker_env
from webapi.app import create_app

ADMIN, PASSWORD = "admin@example.com", "a-good-password"
OFFLINE = ("--model", "offline")


@dataclass
class Site:
    settings: Settings
    url: str
    token: str


@contextlib.contextmanager
def serve(settings: Settings, sock: socket.socket) -> Iterator[None]:
    config = uvicorn.Config(create_app(settings), log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.asynccontextmanager
async def open_site(redis_url: str, data_dir: Path, **overrides: Any) -> AsyncIterator[Site]:
    """The real app in a real HTTP server (its own thread and loop), on a migrated SQLite file."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    settings = make_settings(redis_url, data_dir, host="127.0.0.1", port=sock.getsockname()[1], **overrides)
    await asyncio.to_thread(db.migrate, settings)
    engine = db.create_engine(settings)
    async with db.session_factory(engine)() as session:
        await users.create_user(session, ADMIN, PASSWORD, Role.ADMIN)
    await engine.dispose()
    url = f"http://127.0.0.1:{settings.port}"
    with sock, serve(settings, sock):
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post("/api/auth/login", json={"email": ADMIN, "password": PASSWORD})
        yield Site(settings, url, response.json()["token"])


@pytest.fixture
async def site(redis_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with open_site(redis_url, tmp_path / "data") as opened:
        yield opened


def _env(site: Site, token: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = worker_env(site.settings, BLOGQUEUE_HOST="127.0.0.1", BLOGQUEUE_PORT=str(site.settings.port),
                     PYTHONUNBUFFERED="1", COLUMNS="160", **extra)  # fmt: skip
    if token:
        env["BLOGQUEUE_TOKEN"] = token
    return env


async def blogqueue(
    site: Site, *args: str, stdin: str = "", token: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """The command in a subprocess, so the worker keeps running on this test's loop meanwhile."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "blogops.cli", *args], env=_env(site, token, extra),
        cwd=REPO, input=stdin, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


async def run_json(site: Site, run_id: int) -> dict[str, Any]:
    result = await blogqueue(site, "status", "--run", str(run_id), "--json", token=site.token)
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    return dict(run)


def started_run(stdout: str) -> int:
    found = re.search(r"^run (\d+) started: ", stdout, re.MULTILINE)
    assert found, stdout
    return int(found.group(1))


async def test_login_saves_a_private_token_that_the_other_commands_use(site: Site) -> None:
    token_file = site.settings.secrets_dir / TOKEN_FILE
    anonymous = await blogqueue(site, "status")
    assert (anonymous.returncode, "not signed in: run `blogqueue login" in anonymous.stderr) == (1, True)
    wrong = await blogqueue(site, "login", "--email", ADMIN, stdin="not-the-password\n")
    assert wrong.returncode == 1
    assert "error: wrong email or password" in wrong.stderr
    assert not token_file.exists()
    signed_in = await blogqueue(site, "login", "--email", ADMIN, stdin=PASSWORD + "\n")
    assert signed_in.returncode == 0, signed_in.stderr
    assert f"signed in as {ADMIN}; token saved to {token_file}" in signed_in.stdout
    assert token_file.stat().st_mode & 0o777 == 0o600
    saved = token_file.read_text().strip()
    me = httpx.get(f"{site.url}/api/auth/me", headers={"Authorization": f"Bearer {saved}"})
    assert me.json()["email"] == ADMIN
    status = await blogqueue(site, "status")  # no --url, no BLOGQUEUE_TOKEN: settings and the file
    assert status.returncode == 0, status.stderr
    assert "no runs yet" in status.stdout and "queue: waiting 0, active 0" in status.stdout
    overridden = await blogqueue(site, "status", token="not-a-token")  # the environment wins
    assert overridden.returncode == 1
    assert "sign in with `blogqueue login --email ...`" in overridden.stderr


async def test_generate_wait_shows_progress_and_ends_when_the_run_finishes(
    site: Site, start_worker: Any
) -> None:
    start_worker(site.settings)
    result = await blogqueue(site, "generate", *OFFLINE, "--count", "3", "--wait", "--url", site.url,
                             token=site.token)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = started_run(result.stdout)
    assert re.search(r"^jobs: blog-gen-\d+-\d{13}$", result.stdout, re.MULTILINE)
    assert "estimate: 3 posts x $0.0000 = $0.0000" in result.stdout
    assert "planned 3 of 3 posts" in result.stdout  # a log line from the planning job
    assert len(re.findall(r"^saved: .+ \(.+\)$", result.stdout, re.MULTILINE)) == 3
    assert re.search(rf"run {run_id} .*3/3 posts, 0 failed", result.stdout)  # the bar's last state
    assert f"run {run_id} completed: 3 posts saved, 0 failed, $0.0000" in result.stdout
    run = await run_json(site, run_id)
    assert (run["state"], run["done"], run["failed"]) == ("completed", 3, 0)
    table = await blogqueue(site, "status", token=site.token)
    assert re.search(rf"│ {run_id} +│ batch +│ completed +│ 3/3 +│ 0 +│ \$0.0000 +│ - +│", table.stdout)


async def test_generate_wait_exits_1_when_a_post_failed(
    redis_url: str, tmp_path: Path, start_worker: Any
) -> None:
    with start_fake_ai() as fake:  # the server-wide OpenAI key is one the fake refuses
        bad_key = {"openai_api_key": "sk-proj-x-badkey-1", "openai_base_url": f"{fake.url}/v1"}
        async with open_site(redis_url, tmp_path / "data", **bad_key) as site:
            start_worker(site.settings)
            result = await blogqueue(site, "generate", "--model", "gpt-6.2-sol", "--count", "1", "--wait",
                                     token=site.token)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    run_id = started_run(result.stdout)
    assert re.search(r"^failed: .+", result.stdout, re.MULTILINE)
    assert f"run {run_id} failed: 0 posts saved, 1 failed" in result.stdout


async def test_rejected_options_are_named_one_a_line_with_exit_code_2(site: Site) -> None:
    result = await blogqueue(site, "generate", *OFFLINE, "--count", "0", "--year-from", "2001",
                             "--year-to", "1999", token=site.token)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --count: count must be from 1 to 50",
        "error: --year-from: yearFrom must not be after yearTo",
    ]
    assert json.loads((await blogqueue(site, "status", "--json", token=site.token)).stdout)["runs"] == []


async def test_stop_ends_a_continuous_run_once(site: Site) -> None:
    continuous = ("generate", *OFFLINE, "--count", "1", "--continuous", "--every", "5")
    started = await blogqueue(site, *continuous, token=site.token)
    assert started.returncode == 0, started.stderr
    run_id = started_run(started.stdout)
    assert f"run {run_id} started: continuous" in started.stdout
    assert f"follow it: blogqueue status --run {run_id}" in started.stdout
    second = await blogqueue(site, *continuous, token=site.token)
    assert (second.returncode, second.stderr.strip()) == (
        1, f"error: continuous run {run_id} is already running; stop it first")  # fmt: skip
    run = await run_json(site, run_id)
    assert (run["mode"], run["state"], run["intervalMinutes"]) == ("continuous", "running", 5)
    table = (await blogqueue(site, "status", token=site.token)).stdout
    assert re.search(rf"│ {run_id} +│ continuous every 5 min +│ running +│ 0/0 .*\d\d:\d\d:\d\d +│", table)
    stopped = await blogqueue(site, "stop", "--run", str(run_id), token=site.token)
    assert stopped.returncode == 0, stopped.stderr
    assert re.fullmatch(rf"run {run_id} stopped: \d+ queued jobs removed, \d+ active jobs cancelling, "
                        r"\d+ unwritten titles back to the pool\n", stopped.stdout)  # fmt: skip
    assert (await run_json(site, run_id))["state"] == "cancelled"
    again = await blogqueue(site, "stop", "--run", str(run_id), token=site.token)
    assert (again.returncode, again.stdout) == (0, f"run {run_id} already stopped (cancelled)\n")
    nothing = await blogqueue(site, "stop", token=site.token)
    assert nothing.stdout == "no active runs to stop\n"


async def test_ctrl_c_leaves_a_followed_continuous_run_running(site: Site, start_worker: Any) -> None:
    start_worker(site.settings)
    args = ("generate", *OFFLINE, "--count", "1", "--continuous", "--every", "5", "--wait")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blogops.cli", *args, env=_env(site, site.token, {}), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    seen = ""
    while "saved: " not in seen:  # follows the first tick's post as it is written
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line, seen
        seen += line.decode()
    run_id = started_run(seen)
    process.send_signal(signal.SIGINT)
    rest, errors = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 130, errors.decode()
    assert f"run {run_id} keeps running; stop it with: blogqueue stop --run {run_id}" in rest.decode()
    assert (await run_json(site, run_id))["state"] == "running"
    assert (await blogqueue(site, "stop", token=site.token)).stdout.startswith(f"run {run_id} stopped: ")


async def test_an_unreachable_api_is_a_clear_error(site: Site) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    for args in (("status",), ("generate", *OFFLINE, "--wait"), ("login", "--email", ADMIN)):
        result = await blogqueue(site, *args, "--url", down, token=site.token, stdin=PASSWORD)
        assert result.returncode == 1, args
        assert result.stderr.strip() == (
            f"error: cannot reach the API at {down} (ConnectError): is ./scripts/up running?"
        ), args


def test_sse_lines_are_parsed_as_the_spec_says() -> None:
    lines = [": keep-alive", "", "id: 1-0", "event: log", "data: {", "data: }", "", "data:x", "", "retry: 5"]
    assert [tuple(event) for event in parse_sse(lines)] == [("1-0", "log", "{\n}"), ("1-0", "message", "x")]


class DroppedStream(httpx.SyncByteStream):
    """One event, then the connection breaks."""

    def __iter__(self) -> Iterator[bytes]:
        yield b'id: 5-0\nevent: run-log\ndata: {"kind":"run-log","runId":7,"userId":"1","message":"one"}\n\n'
        yield b'id: 6-0\nevent: run-log\ndata: {"kind":"run-log","runId":8,"userId":"1","message":"other run"}\n\n'
        raise httpx.ReadError("connection reset")


def test_a_dropped_event_stream_resumes_after_the_last_event_id() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(200, stream=DroppedStream())
        body = 'id: 9-0\nevent: run-finished\ndata: {"kind":"run-finished","runId":7,"userId":"1"}\n\n'
        return httpx.Response(200, text=body)

    with httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer)) as http:
        feed = EventFeed(Api(http))
        feed.run_id = 7
        events = []
        for event in feed:
            events.append((event.kind, event.message))
            if event.kind == "run-finished":
                break
    assert events == [("run-log", "one"), ("run-finished", "")]
    assert [request.headers.get("last-event-id") for request in seen] == [None, "6-0"]
    assert [request.url.params.get("runId") for request in seen] == ["7", "7"]
