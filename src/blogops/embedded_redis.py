"""A redis-server that `blogqueue up` starts and supervises when no Redis is configured.

AOF persistence (fsync every second) in the data dir, so queued jobs survive a restart.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from blogqueue.errors import Unavailable
from blogqueue.settings import Settings

INSTALL_HINT = (
    "install it with 'apt-get install redis-server' (Debian/Ubuntu) or 'brew install redis' (macOS)"
)


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise Unavailable(f"no redis-server found on PATH: {INSTALL_HINT}, or set REDIS_URL")
    return binary


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def redis_server_command(settings: Settings) -> list[str]:
    data_dir: Path = settings.redis_data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(settings.embedded_redis_port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--maxmemory-policy", "noeviction",  # BullMQ requires that Redis never evicts its keys
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip
