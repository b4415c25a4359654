"""The `blogqueue` management commands for the database, users and keys."""

from __future__ import annotations

import getpass
import sys
from argparse import Namespace

from redis.exceptions import RedisError

from blogops.bootstrap import INITIAL_ADMIN_FILE
from blogqueue import ai_settings, db, users
from blogqueue.connection import redis_client
from blogqueue.crypto import KeyCipher, generate_key
from blogqueue.errors import Unavailable
from blogqueue.models import Role, User
from blogqueue.queues import Keys
from blogqueue.sessions import SessionGenerations
from blogqueue.settings import Settings


def read_password(args: Namespace) -> str:
    """--password, else a line on stdin when it is not a terminal, else a prompt."""
    if args.password is not None:
        return str(args.password)
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Password: ")


async def end_sessions(settings: Settings, user: User, done: str) -> None:
    """Sign the user out everywhere (see blogqueue.sessions), after the change that calls for it."""
    assert user.id is not None
    redis = redis_client(settings)
    try:
        await SessionGenerations(redis, Keys(settings.queue_prefix)).end_sessions(user.id)
    except RedisError as err:
        raise Unavailable(
            f"{done}, but the sessions of {user.email} could not be signed out: Redis at "
            f"{settings.redis_display_url} is unreachable ({err}); run the command again while it is up"
        ) from err
    finally:
        await redis.aclose()


async def users_command(settings: Settings, args: Namespace) -> int:
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            if args.action == "create":
                role = Role.ADMIN if args.admin else Role.USER
                user = await users.create_user(session, args.email, read_password(args), role)
                print(f"created {user.role} {user.email} (id {user.id})")
            elif args.action == "list":
                for user in await users.list_users(session):
                    state = "disabled" if user.disabled else "active"
                    print(
                        f"{user.id:>5}  {user.email:<40} {user.role:<6} {state:<8} {user.preferred_ai_model}"
                    )
            elif args.action in {"disable", "enable"}:
                user = await users.set_disabled(session, args.email, args.action == "disable")
                if user.disabled:
                    await end_sessions(settings, user, "disabled")
                print(f"{user.email} is now {'disabled' if user.disabled else 'enabled'}")
            else:
                user = await users.set_password(session, args.email, read_password(args))
                (settings.secrets_dir / INITIAL_ADMIN_FILE).unlink(missing_ok=True)
                await end_sessions(settings, user, "password changed")
                print(f"password of {user.email} changed; its sessions are signed out")
    finally:
        await engine.dispose()
    return 0


async def keys_command(settings: Settings, args: Namespace) -> int:
    if args.action == "generate":
        print(generate_key())
        return 0
    cipher = KeyCipher.from_settings(settings)
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            report = await ai_settings.rotate_keys(session, cipher)
    finally:
        await engine.dispose()
    print(f"re-encrypted {report.rotated} key(s) with the newest ring key")
    for failure in report.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if report.failures else 0


def db_command(settings: Settings, _args: Namespace) -> int:
    db.migrate(settings)
    print("database is up to date")
    return 0
