import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from blogops.doctor import diagnose, render
from blogqueue.jobqueue import JobQueue
from blogqueue.settings import Settings
from tests.conftest import REPO, free_port, make_settings, wait_for, worker_env


async def test_all_checks_pass_with_a_live_worker(settings: Settings, start_worker: Any) -> None:
    start_worker(settings)
    queue = JobQueue(settings)
    await wait_for(queue.live_workers)
    await queue.close()
    report = await diagnose(settings)
    assert report.ok, render(report)
    checks = {check.name: check for check in report.checks}
    assert list(checks) == ["redis", "workers", "selftest", "database"]
    assert checks["redis"].data["version"]
    assert checks["redis"].data["persistence"] == "none"  # the test Redis keeps nothing on disk
    assert (checks["workers"].data["count"], checks["workers"].data["python"]) == (1, 1)
    assert 0 < checks["selftest"].data["ms"] < 15_000


async def test_no_worker_fails_with_the_fix_to_try(settings: Settings) -> None:
    report = await diagnose(settings)
    assert not report.ok
    workers = next(check for check in report.checks if check.name == "workers")
    assert not workers.ok
    assert workers.fix and "blogworker" in workers.fix
    assert "FAIL  workers" in render(report)


async def test_unreachable_redis_is_reported_without_its_password(tmp_path: Path) -> None:
    settings = make_settings(f"redis://:hunter2@127.0.0.1:{free_port()}/0", tmp_path)
    report = await diagnose(settings)
    redis_check = report.checks[0]
    assert (redis_check.name, redis_check.ok) == ("redis", False)
    assert redis_check.fix and "redis://:***@127.0.0.1" in redis_check.fix
    assert "hunter2" not in render(report)


def test_cli_prints_json_and_exits_non_zero_when_a_check_fails(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "blogops.cli", "doctor", "--json"],
        env=worker_env(settings), cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [check["name"] for check in report["checks"]] == ["redis", "workers", "selftest", "database"]
