"""Shared set-up for the Node BullMQ interop tests: `node` with the pinned packages, and running
the scripts in tests/interop/node/ (each prints one JSON object per line) against a test's queue.
Nothing here is skipped: a missing `node` or `node_modules` fails the test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from blogqueue.queues import QUEUE_NAME
from blogqueue.settings import Settings

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_PACKAGES = {"bullmq": "6.7.0", "ioredis": "6.0.0"}
SCRIPT_TIMEOUT_MS = 45_000  # each script exits by itself (code 3) after this long
STDOUT_LINE_LIMIT = 4 * 1024 * 1024


class NodeScript:
    """One running `node <script>`: its stdout parsed as JSON lines, its stderr kept for errors."""

    def __init__(self, script: str, process: asyncio.subprocess.Process) -> None:
        self.script = script
        self.process = process
        self.lines: list[dict[str, Any]] = []
        self.stderr = bytearray()
        self._update = asyncio.Event()
        self._stdout_done = False
        self._readers = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._read_stderr())]

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            text = raw.decode(errors="replace").strip()
            if text:
                try:
                    line = json.loads(text)
                except json.JSONDecodeError:
                    line = {"event": "unparsed", "text": text}
                self.lines.append(line if isinstance(line, dict) else {"event": "unparsed", "text": text})
                self._update.set()
        self._stdout_done = True
        self._update.set()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self.stderr.extend(chunk)

    def events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        """Lines with this `event` whose fields equal `match`."""
        return [
            line
            for line in self.lines
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items())
        ]

    async def wait_event(self, event: str, timeout: float, **match: Any) -> dict[str, Any]:
        """The first line with this `event` (and fields), waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if found := self.events(event, **match):
                return found[0]
            if self._stdout_done:
                self.fail(f"exited (code {self.process.returncode}) without printing {event!r} {match}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"printed no {event!r} {match} within {timeout} s")
            self._update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update.wait(), timeout=remaining)

    async def finish(self, timeout: float) -> None:
        """Wait for a clean exit (code 0)."""
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=timeout)
        except TimeoutError:
            self.fail(f"did not exit within {timeout} s")
        await asyncio.gather(*self._readers)
        if code != 0:
            self.fail(f"exited with code {code}")

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def fail(self, message: str) -> NoReturn:
        stdout = "\n".join(json.dumps(line) for line in self.lines[-40:])
        stderr = self.stderr.decode(errors="replace")[-4000:]
        pytest.fail(f"node {self.script}: {message}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")


RunNode = Callable[..., Awaitable[NodeScript]]  # (script, spec, env=None)


@pytest.fixture(scope="session")
def node_binary() -> str:
    """`node`, with the pinned packages installed by `npm ci --prefix tests/interop/node`."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: install Node 20 to run the Node BullMQ interop tests")
    for package, version in NODE_PACKAGES.items():
        manifest = NODE_DIR / "node_modules" / package / "package.json"
        if not manifest.is_file():
            pytest.fail(f"{manifest} is missing: run `npm ci --prefix tests/interop/node` first")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            pytest.fail(f"{package} {installed} is installed but {version} is pinned: run `npm ci` again")
    return node


@pytest.fixture
async def run_node(node_binary: str, settings: Settings) -> AsyncIterator[RunNode]:
    """Start a script from tests/interop/node against this test's queue; all are killed at the end."""
    started: list[NodeScript] = []
    env = {
        **os.environ,
        "BQ_REDIS_URL": settings.redis_url,
        "BQ_PREFIX": settings.queue_prefix,
        "BQ_QUEUE": QUEUE_NAME,
        # the names the README's examples read
        "REDIS_URL": settings.redis_url,
        "BLOGQUEUE_QUEUE_PREFIX": settings.queue_prefix,
    }

    async def run(script: str, spec: dict[str, Any], env_extra: dict[str, str] | None = None) -> NodeScript:
        process = await asyncio.create_subprocess_exec(
            node_binary, str(NODE_DIR / script), json.dumps({"timeoutMs": SCRIPT_TIMEOUT_MS, **spec}),
            cwd=NODE_DIR, env=env | (env_extra or {}), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=STDOUT_LINE_LIMIT,
        )  # fmt: skip
        started.append(NodeScript(script, process))
        return started[-1]

    yield run
    for script in started:
        await script.kill()
