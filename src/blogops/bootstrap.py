"""First-run preparation for `blogqueue up`: local secrets, migrations, a first admin."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from blogqueue import db, users
from blogqueue.models import Role
from blogqueue.secrets_store import ensure_local_secrets, write_private
from blogqueue.settings import Settings

INITIAL_ADMIN_FILE = "initial-admin-password"


async def _ensure_first_admin(settings: Settings) -> str | None:
    """Create an admin when there is no user at all; returns its generated password."""
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            if await users.count_users(session):
                return None
            password = secrets.token_urlsafe(12)
            await users.create_user(session, settings.admin_email, password, Role.ADMIN)
            return password
    finally:
        await engine.dispose()


def prepare(settings: Settings) -> list[str]:
    """Run before the API and workers start; returns lines telling the person how to sign in."""
    ensure_local_secrets(settings)
    db.migrate(settings)
    password = asyncio.run(_ensure_first_admin(settings))
    password_file: Path = settings.secrets_dir / INITIAL_ADMIN_FILE
    if password is not None:
        password_file.unlink(missing_ok=True)
        write_private(password_file, password)
        return [f"Sign in as {settings.admin_email} with password {password}",
                f"  (kept in {password_file}; change it: .venv/bin/blogqueue users set-password "
                f"--email {settings.admin_email})"]  # fmt: skip
    if password_file.is_file():
        return [f"Sign in as {settings.admin_email}; its first password is in {password_file}"]
    return ["Sign in with your account (create one: .venv/bin/blogqueue users create --email ... --admin)"]
