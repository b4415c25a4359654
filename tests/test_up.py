"""README command 1's runtime, `blogqueue up`: embedded Redis with AOF, API and workers as one unit."""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from blogqueue.jobqueue import JobQueue
from blogqueue.payloads import SelfTest
from blogqueue.queues import JobName
from tests.conftest import free_port, make_settings, wait_for


class Up:
    def __init__(self, tmp_path: Path, workers: int, api_port: int, redis_port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOGQUEUE_", "REDIS_", "DATABASE_"))}
        env.update(
            {
                "BLOGQUEUE_DATA_DIR": str(tmp_path / "var"),
                "BLOGQUEUE_PORT": str(api_port),
                "BLOGQUEUE_REDIS_PORT": str(redis_port),
                "BLOGQUEUE_WORKERS": str(workers),
                "BLOGQUEUE_LOG_FORMAT": "json",
            }
        )
        self.log_path = tmp_path / f"up-{workers}.log"
        self.base = f"http://127.0.0.1:{api_port}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "blogops.cli", "up"], env=env, cwd=tmp_path, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def readiness(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.base}/readyz", timeout=2)
        except httpx.HTTPError:
            return None
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 else None

    def child_pids(self) -> list[int]:
        pids = []
        for line in self.log_path.read_text().splitlines():
            if '"process_started"' in line:
                pids.append(int(json.loads(line)["pid"]))
        return pids

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)


async def _wait_ready(up: Up, workers: int) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        if up.process.poll() is not None:
            pytest.fail(f"blogqueue up exited early:\n{up.log_path.read_text()}")
        body = up.readiness()
        banner = "Press Ctrl-C" in up.log_path.read_text()  # printed once the API answers
        return body if body and body["workers"] == workers and banner else None

    result: dict[str, Any] = await wait_for(ready, timeout=60, interval=0.3)
    return result


def _assert_all_gone(up: Up, ports: list[int]) -> None:
    pids = up.child_pids()
    assert len(pids) >= 2  # redis + api (+ workers)
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)


async def test_jobs_queued_without_workers_survive_a_full_restart(tmp_path: Path) -> None:
    api_port, redis_port = free_port(), free_port()
    up = Up(tmp_path, workers=0, api_port=api_port, redis_port=redis_port)
    try:
        body = await _wait_ready(up, workers=0)
        assert body["reasons"] == ["no live worker: jobs will wait until one starts"]
        banner = re.search(r"Sign in as (\S+) with password (\S+)", up.log_path.read_text())
        assert banner, up.log_path.read_text()
        login = httpx.post(f"{up.base}/api/auth/login", json={"email": banner[1], "password": banner[2]})
        assert login.status_code == 200
        for name in ("encryption.keys", "session.key", "initial-admin-password"):
            assert stat.S_IMODE((tmp_path / "var" / "secrets" / name).stat().st_mode) == 0o600
        settings = make_settings(f"redis://127.0.0.1:{redis_port}/0", tmp_path, queue_prefix="bull")
        queue = JobQueue(settings)
        ids = [await queue.enqueue(JobName.SELFTEST, SelfTest(note=f"n{n}")) for n in range(3)]
        await queue.close()
    finally:
        code = up.stop(signal.SIGINT)
    assert code == 0
    _assert_all_gone(up, [api_port, redis_port])
    assert (tmp_path / "var" / "redis" / "appendonlydir").is_dir()

    again = Up(tmp_path, workers=1, api_port=api_port, redis_port=redis_port)
    try:
        await _wait_ready(again, workers=1)
        assert "its first password is in" in again.log_path.read_text()  # no second admin
        relogin = httpx.post(f"{again.base}/api/auth/login", json={"email": banner[1], "password": banner[2]})
        assert relogin.status_code == 200  # the same secrets and database after a restart
        queue = JobQueue(settings)

        async def all_completed() -> bool:
            states = [(await queue.get_job(job_id)).state for job_id in ids]
            return states == ["completed"] * len(ids)

        await wait_for(all_completed, timeout=30)
        await queue.close()
    finally:
        code = again.stop(signal.SIGTERM)
    assert code == 0
    _assert_all_gone(again, [api_port, redis_port])


async def test_a_crashed_worker_is_restarted(tmp_path: Path) -> None:
    api_port, redis_port = free_port(), free_port()
    up = Up(tmp_path, workers=1, api_port=api_port, redis_port=redis_port)
    try:
        await _wait_ready(up, workers=1)
        worker_pid = up.child_pids()[-1]
        os.kill(worker_pid, signal.SIGKILL)

        async def restarted() -> bool:
            return len(up.child_pids()) == 4 and bool(up.readiness())

        await wait_for(restarted, timeout=30, interval=0.3)
        assert '"process_exited"' in up.log_path.read_text()
    finally:
        assert up.stop(signal.SIGTERM) == 0
    _assert_all_gone(up, [api_port, redis_port])


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-m", "http.server", "0"], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as blocker:  # fmt: skip
        line = blocker.stdout.readline().decode() if blocker.stdout else ""
        port = int(line.split("port ")[1].split(" ")[0])
        try:
            up = Up(tmp_path, workers=0, api_port=port, redis_port=free_port())
            assert up.process.wait(timeout=30) == 1
            assert f"port {port} is already in use" in up.log_path.read_text()
        finally:
            blocker.terminate()
