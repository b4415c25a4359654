from pathlib import Path

import pytest
from pydantic import ValidationError

from blogqueue.settings import Settings


def test_defaults_use_the_embedded_redis_and_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_embedded
    assert settings.redis_url == "redis://127.0.0.1:6390/0"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.data_dir == Path("var")
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("var/blogqueue.db")


def test_seed_redis_variables_build_a_url_with_a_masked_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6400")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss word")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.redis_embedded
    assert settings.redis_url == "redis://:p%40ss%20word@cache.internal:6400/0"
    assert "p%40ss" not in settings.redis_display_url
    assert settings.redis_display_url == "redis://:***@cache.internal:6400/0"


def test_redis_url_wins_over_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://user:secret@r1:7000/2")
    monkeypatch.setenv("REDIS_HOST", "ignored")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_url == "redis://user:secret@r1:7000/2"
    assert settings.redis_display_url == "redis://user:***@r1:7000/2"


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLOGQUEUE_PORT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("BLOGQUEUE_PORT=8123\nBLOGQUEUE_WORKERS=0\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert (settings.port, settings.workers) == (8123, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "http://x"),
        ("BLOGQUEUE_WORKERS", "-1"),
        ("BLOGQUEUE_PORT", "0"),
        ("BLOGQUEUE_LOG_FORMAT", "xml"),
    ],
)
def test_bad_values_are_rejected_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert name.removeprefix("BLOGQUEUE_").lower() in str(info.value).lower()


def test_settings_are_frozen() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]
