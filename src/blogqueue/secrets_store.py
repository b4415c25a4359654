"""Where the encryption key ring and the session secret come from.

Production sets BLOGQUEUE_ENCRYPTION_KEYS and BLOGQUEUE_SECRET_KEY. For local use, `blogqueue up`
generates them once into <data_dir>/secrets (mode 0600) and every process on that data dir reads
the same files, so the API and the workers always agree. There is never a per-process default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from blogqueue.errors import Misconfigured
from blogqueue.settings import Settings

ENCRYPTION_KEYS_FILE = "encryption.keys"
SESSION_SECRET_FILE = "session.key"  # noqa: S105 - a file name, not a secret


def _read(settings: Settings, name: str) -> str | None:
    path = settings.secrets_dir / name
    return path.read_text().strip() if path.is_file() else None


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")


def encryption_keys(settings: Settings) -> list[str]:
    """The Fernet key ring, newest (encrypting) key first."""
    raw = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    raw = raw or _read(settings, ENCRYPTION_KEYS_FILE)
    keys = [key.strip() for key in (raw or "").replace("\n", ",").split(",") if key.strip()]
    if not keys:
        raise Misconfigured(
            "no encryption key: set BLOGQUEUE_ENCRYPTION_KEYS (make one with 'blogqueue keys generate'), "
            f"or run ./scripts/up once to create a local one in {settings.secrets_dir}"
        )
    return keys


def session_secret(settings: Settings) -> str:
    secret = (
        settings.secret_key.get_secret_value()
        if settings.secret_key
        else _read(settings, SESSION_SECRET_FILE)
    )
    if not secret:
        raise Misconfigured(
            "no session secret: set BLOGQUEUE_SECRET_KEY, "
            f"or run ./scripts/up once to create a local one in {settings.secrets_dir}"
        )
    return secret


def ensure_local_secrets(settings: Settings) -> list[str]:
    """Create the local secret files that are neither configured nor present; returns their names."""
    created = []
    if not settings.encryption_keys and _read(settings, ENCRYPTION_KEYS_FILE) is None:
        write_private(settings.secrets_dir / ENCRYPTION_KEYS_FILE, Fernet.generate_key().decode())
        created.append(ENCRYPTION_KEYS_FILE)
    if not settings.secret_key and _read(settings, SESSION_SECRET_FILE) is None:
        write_private(settings.secrets_dir / SESSION_SECRET_FILE, secrets.token_urlsafe(48))
        created.append(SESSION_SECRET_FILE)
    return created
