"""The `blogqueue` management commands, run as a person would."""

import asyncio
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from blogops.supervisor import Supervisor
from blogqueue import ai_settings, db, users
from blogqueue.ai_settings import AiSettingsUpdate
from blogqueue.connection import redis_client
from blogqueue.crypto import KeyCipher
from blogqueue.queues import Keys
from blogqueue.registry import load_registry
from blogqueue.sessions import SessionGenerations
from blogqueue.settings import Settings
from tests.conftest import REPO, free_port, make_settings, worker_env


def blogqueue(
    settings: Settings, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    ring = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    environment = worker_env(settings, **{"BLOGQUEUE_ENCRYPTION_KEYS": ring, **env})
    return subprocess.run(
        [sys.executable, "-m", "blogops.cli", *args], env=environment, cwd=REPO, input=stdin,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_users_can_be_created_listed_disabled_and_given_a_password(sqlite_settings: Settings) -> None:
    created = blogqueue(
        sqlite_settings,
        "users",
        "create",
        "--email",
        "Ops@Example.com",
        "--password",
        "s3cret-pass",
        "--admin",
    )
    assert created.returncode == 0, created.stderr
    assert "created admin ops@example.com" in created.stdout
    piped = blogqueue(
        sqlite_settings, "users", "create", "--email", "writer@example.com", stdin="from-stdin-pass\n"
    )
    assert piped.returncode == 0, piped.stderr
    duplicate = blogqueue(
        sqlite_settings, "users", "create", "--email", "ops@example.com", "--password", "whatever1"
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    short = blogqueue(sqlite_settings, "users", "create", "--email", "x@example.com", "--password", "short")
    assert (short.returncode, "8-1024 characters" in short.stderr) == (1, True)
    assert blogqueue(sqlite_settings, "users", "disable", "--email", "writer@example.com").returncode == 0
    listing = blogqueue(sqlite_settings, "users", "list").stdout
    assert "ops@example.com" in listing and "admin" in listing
    assert "writer@example.com" in listing and "disabled" in listing
    assert "x@example.com" not in listing
    missing = blogqueue(
        sqlite_settings, "users", "set-password", "--email", "nobody@example.com", "--password", "whatever1"
    )
    assert (missing.returncode, "no user with email" in missing.stderr) == (1, True)


def test_key_rotation_reports_undecryptable_keys_by_user_and_provider(sqlite_settings: Settings) -> None:
    # Keys saved through the data layer under the current ring...
    async def save() -> None:
        engine = db.create_engine(sqlite_settings)
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "k@example.com", "password-k")
            await ai_settings.update_ai_settings(session, KeyCipher.from_settings(sqlite_settings), load_registry(),
                                                 user, AiSettingsUpdate(gemini_api_key="AIzaKeyForRotation1"))  # fmt: skip
        await engine.dispose()

    asyncio.run(save())
    current = sqlite_settings.encryption_keys.get_secret_value() if sqlite_settings.encryption_keys else ""
    newest = Fernet.generate_key().decode()
    rotated = blogqueue(sqlite_settings, "keys", "rotate", BLOGQUEUE_ENCRYPTION_KEYS=f"{newest},{current}")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 key(s)" in rotated.stdout
    # ...after which the old key alone no longer decrypts them, and the error names who and what.
    stale = blogqueue(sqlite_settings, "keys", "rotate", BLOGQUEUE_ENCRYPTION_KEYS=current)
    assert stale.returncode == 1
    assert "the gemini key of k@example.com cannot be decrypted" in stale.stderr
    assert "Traceback" not in stale.stderr
    assert blogqueue(sqlite_settings, "keys", "rotate", BLOGQUEUE_ENCRYPTION_KEYS=newest).returncode == 0


def test_generate_prints_a_usable_key_and_db_upgrade_is_idempotent(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    generated = blogqueue(sqlite_settings, "keys", "generate")
    Fernet(generated.stdout.strip().encode())
    upgrade = blogqueue(sqlite_settings, "db", "upgrade")
    assert (upgrade.returncode, upgrade.stdout.strip()) == (0, "database is up to date")


def test_missing_encryption_keys_is_a_clear_error(sqlite_settings: Settings) -> None:
    result = blogqueue(sqlite_settings, "keys", "rotate", BLOGQUEUE_ENCRYPTION_KEYS="")
    assert result.returncode == 1
    assert "no encryption key: set BLOGQUEUE_ENCRYPTION_KEYS" in result.stderr


def test_up_runs_the_configured_number_of_api_processes(tmp_path: Path) -> None:
    settings = make_settings("redis://127.0.0.1:6399/0", tmp_path, api_workers=3)
    api = Supervisor(settings).apps[0]
    assert api.name == "api"
    assert api.argv[api.argv.index("--workers") + 1] == "3"


def test_set_password_and_disable_sign_the_user_out_in_redis(sqlite_settings: Settings) -> None:
    async def generation() -> int:
        redis = redis_client(sqlite_settings)
        try:
            engine = db.create_engine(sqlite_settings)
            async with db.session_factory(engine)() as session:
                user = await users.get_by_email(session, "s@example.com")
            await engine.dispose()
            assert user.id is not None
            return await SessionGenerations(redis, Keys(sqlite_settings.queue_prefix)).current(user.id)
        finally:
            await redis.aclose()

    assert (
        blogqueue(
            sqlite_settings, "users", "create", "--email", "s@example.com", "--password", "first-pass"
        ).returncode
        == 0
    )
    assert asyncio.run(generation()) == 0
    changed = blogqueue(
        sqlite_settings, "users", "set-password", "--email", "s@example.com", "--password", "second-pass"
    )
    assert changed.returncode == 0, changed.stderr
    assert "signed out" in changed.stdout
    assert asyncio.run(generation()) == 1
    assert blogqueue(sqlite_settings, "users", "disable", "--email", "s@example.com").returncode == 0
    assert asyncio.run(generation()) == 2
    unreachable = blogqueue(sqlite_settings, "users", "set-password", "--email", "s@example.com",
                            "--password", "third-pass", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")  # fmt: skip
    assert unreachable.returncode == 1
    assert "could not be signed out" in unreachable.stderr and "Traceback" not in unreachable.stderr
