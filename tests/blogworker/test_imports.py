"""What a worker process loads before its first job: every module is memory it holds for life."""

import subprocess
import sys

import pytest

# Loaded only by the code that needs them: migrations (operators and the API's start-up), the API,
# each provider's SDK (most workers use one provider), the PostgreSQL dialect (SQLite by default),
# and httpx (TMDb goes through httpx2, which the SDKs bring anyway).
NOT_AT_START = [
    "httpx",
    "alembic",
    "webapi",
    "litestar",
    "openai",
    "anthropic",
    "google.genai",
    "sqlalchemy.dialects.postgresql",
]


def _loaded_after(statement: str, names: list[str]) -> list[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(n for n in {names!r} if n in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("module", ["blogworker.main", "blogworker.runner"])
def test_the_worker_starts_without_modules_it_may_never_use(module: str) -> None:
    assert _loaded_after(f"import {module}", NOT_AT_START) == []
