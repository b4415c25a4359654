"""structlog set up once per process: console on a tty, JSON otherwise, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from blogqueue.settings import Settings

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"(api[_-]?key|apikey|secret|password|passwd|token|authorization|cookie)", re.I)
# Provider key shapes (sk-..., sk-ant-..., AIza...) and credentials inside URLs.
_SECRET_VALUE = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,})")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***@", _SECRET_VALUE.sub(REDACTED, value))
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret_name(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _is_secret_name(name: object) -> bool:
    return isinstance(name, str) and bool(_SECRET_NAME.search(name))


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace key-like fields and key-shaped values anywhere in the event with a marker."""
    for name, value in list(event_dict.items()):
        event_dict[name] = REDACTED if _is_secret_name(name) and value else _scrub(value)
    return event_dict


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Configure structlog (and stdlib logging through it) for this process."""
    out = stream or sys.stderr
    as_json = settings.log_format == "json" or (settings.log_format == "auto" and not out.isatty())
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if as_json else structlog.processors.StackInfoRenderer(),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=out, force=True)
