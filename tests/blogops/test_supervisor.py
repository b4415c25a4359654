"""`blogqueue up` gives each worker its own metrics port, so N workers on one host all serve theirs."""

from pathlib import Path

from blogops.supervisor import Supervisor
from tests.conftest import make_settings


def test_each_worker_gets_its_own_metrics_port_and_none_without_one(tmp_path: Path) -> None:
    settings = make_settings("redis://127.0.0.1:1", tmp_path, workers=3, worker_metrics_port=9400)
    workers = [child for child in Supervisor(settings).apps if child.name.startswith("worker-")]
    assert [child.env for child in workers] == [
        {"BLOGQUEUE_WORKER_METRICS_PORT": port} for port in ("9400", "9401", "9402")
    ]
    plain = make_settings("redis://127.0.0.1:1", tmp_path, workers=2)
    assert [child.env for child in Supervisor(plain).apps] == [None, None, None]
