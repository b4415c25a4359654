"""Typed, frozen settings read once from the environment and `.env` at each entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from blogqueue.providers import PROVIDERS, Provider


class Settings(BaseSettings):
    """Every knob of API, workers and CLI. Build it at the entrypoint and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="BLOGQUEUE_", env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=0, le=64)
    api_workers: int = Field(default=1, ge=1, le=32)  # API processes behind the one port
    api_max_in_flight: int = Field(default=32, ge=1, le=10_000)  # requests a process works on at once
    max_active_runs: int = Field(default=20, ge=1, le=1_000_000)  # unfinished runs per user

    # Redis: REDIS_URL wins, then the seed's REDIS_HOST/PORT/PASSWORD, else an embedded redis-server.
    redis_url_env: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    redis_host: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_HOST"))
    redis_port: int = Field(default=6379, ge=1, le=65535, validation_alias=AliasChoices("REDIS_PORT"))
    redis_password: SecretStr | None = Field(default=None, validation_alias=AliasChoices("REDIS_PASSWORD"))
    embedded_redis_port: int = Field(
        default=6390, ge=1, le=65535, validation_alias=AliasChoices("BLOGQUEUE_REDIS_PORT")
    )
    database_url_env: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))

    queue_prefix: str = Field(default="bull", pattern=r"^[A-Za-z0-9_.{}-]+$")
    worker_concurrency: int = Field(default=2, ge=1, le=500)
    limiter_max: int = Field(default=10, ge=0)
    limiter_duration_ms: int = Field(default=60_000, ge=1)
    lock_duration_ms: int = Field(default=30_000, ge=1_000)
    stalled_interval_ms: int = Field(default=30_000, ge=500)
    max_stalled_count: int = Field(default=2, ge=0)
    drain_delay_s: int = Field(default=5, ge=1, le=10)
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    # A worker serves Prometheus metrics on this port (0: any free one, logged); unset: not served.
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # Secrets. Unset, `blogqueue up` generates local ones into <data_dir>/secrets (mode 0600).
    encryption_keys: SecretStr | None = None  # Fernet keys, comma-separated; the first encrypts
    secret_key: SecretStr | None = None  # signs session tokens
    # Server-wide provider keys, found by the variable each `PROVIDERS` row names.
    gemini_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("GEMINI_API_KEY"))
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY")
    )

    # TMDb: the read access token (Bearer) wins over the v3 API key; neither means the sample catalog.
    tmdb_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("TMDB_API_KEY"))
    tmdb_read_access_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TMDB_READ_ACCESS_TOKEN")
    )
    tmdb_base_url: str = Field(
        default="https://api.themoviedb.org/3", validation_alias=AliasChoices("TMDB_BASE_URL")
    )
    tmdb_image_base_url: str = "https://image.tmdb.org/t/p/w500"  # BLOGQUEUE_TMDB_IMAGE_BASE_URL
    tmdb_timeout_s: float = Field(default=10.0, gt=0, le=120)

    # AI providers. Base URLs follow each SDK's own variable (named in `PROVIDERS`); unset means the
    # provider's public API.
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    anthropic_base_url: str | None = Field(default=None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL"))
    gemini_base_url: str | None = Field(default=None, validation_alias=AliasChoices("GOOGLE_GEMINI_BASE_URL"))
    provider_timeout_s: float = Field(default=120.0, gt=0, le=900)
    auto_publish: bool = False  # publish generated posts at once instead of keeping them as drafts
    # Whether authors (plain users) may publish, schedule and unpublish their own posts; admins always may.
    authors_can_publish: bool = True

    admin_email: str = Field(default="admin@blogqueue.local", pattern=r"^[^@\s]+@[^@\s]+$")
    session_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_s: int = Field(default=900, ge=1)
    # Other origins (scheme://host[:port]) whose pages may call the API from a browser: CORS is
    # configured for them, and the CSRF check trusts them as it trusts the API's own origin.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return (
            tuple(part.strip() for part in value.split(",") if part.strip())
            if isinstance(value, str)
            else value
        )

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            parts = urlsplit(origin)
            if (
                parts.scheme not in {"http", "https"}
                or not parts.netloc
                or origin != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ValueError(
                    f"{origin!r} is not an origin such as https://blog.example.com or http://host:8080"
                )
        return origins

    @model_validator(mode="after")
    def _check_redis_url(self) -> Settings:
        if self.redis_url_env and urlsplit(self.redis_url_env).scheme not in {"redis", "rediss"}:
            raise ValueError("REDIS_URL must start with redis:// or rediss://")
        return self

    @property
    def redis_embedded(self) -> bool:
        """True when no Redis was configured and `blogqueue up` runs its own redis-server."""
        return not (self.redis_url_env or self.redis_host)

    @property
    def redis_url(self) -> str:
        if self.redis_url_env:
            return self.redis_url_env
        host = self.redis_host or "127.0.0.1"
        port = self.redis_port if self.redis_host else self.embedded_redis_port
        secret = self.redis_password.get_secret_value() if self.redis_password else ""
        auth = f":{quote(secret, safe='')}@" if secret else ""
        return f"redis://{auth}{host}:{port}/0"

    @property
    def redis_display_url(self) -> str:
        """The Redis URL with any password masked, fit for logs and health output."""
        parts = urlsplit(self.redis_url)
        if parts.password is None:
            return self.redis_url
        user = parts.username or ""
        netloc = f"{user}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def database_url(self) -> str:
        return self.database_url_env or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'blogqueue.db'}"

    @property
    def redis_data_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def provider_base_urls(self) -> dict[Provider, str | None]:
        """Each provider's base URL from its SDK's variable; None: the provider's public API."""
        urls: dict[Provider, str | None] = {
            provider: getattr(self, _FIELD_FOR_ENV[info.base_url_env])
            for provider, info in PROVIDERS.items()
            if info.base_url_env is not None
        }
        return urls

    def server_key(self, provider: Provider) -> SecretStr | None:
        """The server-wide fallback key for a provider, from the environment."""
        env = PROVIDERS[provider].key_env
        key: SecretStr | None = getattr(self, _FIELD_FOR_ENV[env]) if env is not None else None
        return key


# The provider table names environment variables; these are the fields that read them.
_FIELD_FOR_ENV = {
    alias: name
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
    for alias in field.validation_alias.choices
    if isinstance(alias, str)
}
