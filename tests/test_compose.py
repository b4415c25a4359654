"""compose.yaml and the Dockerfile agree with Settings and with how the two apps start and stop.

No Docker engine runs in CI, so these read the files and check them against the code instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices

from blogqueue.settings import Settings

REPO = Path(__file__).resolve().parent.parent
APPS = ("api", "worker")
# Read by Settings under these exact names (the seed's and the SDKs' conventions), not BLOGQUEUE_*.
UNPREFIXED = {
    "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "DATABASE_URL", "GEMINI_API_KEY",
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN",
}  # fmt: skip
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"][name]
    return found


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def interpolate(value: object) -> str:
    """Resolve `${NAME:-default}` as compose would with NAME unset; a variable without a default fails."""

    def default(match: re.Match[str]) -> str:
        if match["default"] is None:
            pytest.fail(f"{match[0]} has no default, so compose.yaml does not work out of the box")
        return match["default"]

    return INTERPOLATION.sub(default, str(value))


def environment(svc: dict[str, Any]) -> dict[str, str]:
    raw = svc.get("environment") or {}
    pairs = dict(item.split("=", 1) for item in raw) if isinstance(raw, list) else raw
    return {name: interpolate(value) for name, value in pairs.items()}


def settings_env_names() -> dict[str, str]:
    """Env variable -> Settings field, as pydantic-settings reads them (an alias replaces the prefix)."""
    names: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update({str(choice).upper(): field_name for choice in alias.choices})
        elif isinstance(alias, str):
            names[alias.upper()] = field_name
        else:
            names[f"BLOGQUEUE_{field_name.upper()}"] = field_name
    return names


def seconds(duration: str) -> float:
    parts = DURATION_PART.findall(duration)
    assert "".join(number + unit for number, unit in parts) == duration, f"unparsed duration {duration!r}"
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


def build_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for name in [n for n in os.environ if n.startswith("BLOGQUEUE_") or n.upper() in UNPREFIXED]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_services_exist(compose: dict[str, Any]) -> None:
    assert {"redis", "api", "worker"} <= set(compose["services"])


def test_api_and_worker_run_the_same_image(compose: dict[str, Any]) -> None:
    api, worker = service(compose, "api"), service(compose, "worker")
    assert api.get("build") or api.get("image"), "api has neither build nor image"
    assert (api.get("build"), api.get("image")) == (worker.get("build"), worker.get("image"))


def test_redis_keeps_jobs_across_restarts(compose: dict[str, Any]) -> None:
    redis = service(compose, "redis")
    command = argv(redis["command"])
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    volume_names = [str(v).split(":", 1)[0] for v in redis.get("volumes", []) if str(v).endswith(":/data")]
    assert volume_names, "redis has no volume at /data"
    assert volume_names[0] in (compose.get("volumes") or {}), "redis /data is not a named volume"


@pytest.mark.parametrize("name", APPS)
def test_every_variable_is_one_settings_reads(compose: dict[str, Any], name: str) -> None:
    known = settings_env_names()
    for variable in environment(service(compose, name)):
        if variable in UNPREFIXED:
            continue
        assert variable.startswith("BLOGQUEUE_"), f"{name}: {variable} lacks the BLOGQUEUE_ prefix"
        assert variable in known, f"{name}: {variable} matches no Settings field and would be ignored"


@pytest.mark.parametrize("name", APPS)
def test_settings_build_from_service_environment(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    env = environment(service(compose, name))
    settings = build_settings(monkeypatch, env)
    assert urlsplit(settings.redis_url).hostname == "redis"
    database = urlsplit(settings.database_url)
    if database.scheme.startswith("postgresql"):
        assert database.hostname in compose["services"], f"{name}: no service {database.hostname!r}"
        assert database.hostname in service(compose, name).get("depends_on", {})


def test_worker_runs_blogworker(compose: dict[str, Any]) -> None:
    assert "blogworker" in argv(service(compose, "worker").get("command") or [])


def test_worker_outlives_its_drain(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    worker = service(compose, "worker")
    settings = build_settings(monkeypatch, environment(worker))
    assert seconds(str(worker.get("stop_grace_period", "10s"))) > settings.shutdown_grace_s


def test_worker_has_replicas(compose: dict[str, Any]) -> None:
    assert int(service(compose, "worker").get("deploy", {}).get("replicas", 1)) >= 2


def test_api_healthcheck_asks_readyz(compose: dict[str, Any]) -> None:
    check = argv(service(compose, "api")["healthcheck"]["test"])
    assert any("/readyz" in part for part in check)


@pytest.mark.parametrize("name", APPS)
def test_apps_wait_for_healthy_dependencies(compose: dict[str, Any], name: str) -> None:
    depends_on = service(compose, name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must be a mapping to carry conditions"
    assert "redis" in depends_on
    for dependency, spec in depends_on.items():
        assert spec.get("condition") == "service_healthy", f"{name} -> {dependency}"
        check = service(compose, dependency).get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{dependency} has no healthcheck"


def test_dockerfile_installs_pinned_and_runs_the_api(dockerfile: str) -> None:
    assert re.search(r"^RUN pip install .*-c constraints\.txt", dockerfile, re.M)
    assert re.search(r"^COPY .*constraints\.txt", dockerfile, re.M)
    cmd = re.findall(r"^CMD (.+)$", dockerfile, re.M)
    assert cmd, "no CMD"
    command = json.loads(cmd[-1])
    assert command[:2] == ["uvicorn", "webapi.app:create_app"]
    assert "--factory" in command


def test_dockerfile_drops_root(dockerfile: str) -> None:
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users, "no USER"
    assert users[-1] not in {"root", "0"}
