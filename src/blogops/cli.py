"""`blogqueue`: the management command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec
from pydantic import ValidationError

from blogops.client import COMMANDS as CLIENT_COMMANDS
from blogops.client import client_command
from blogops.doctor import diagnose, render
from blogops.manage import db_command, keys_command, users_command
from blogops.supervisor import run_up
from blogqueue.errors import BlogQueueError
from blogqueue.logs import configure_logging
from blogqueue.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blogqueue", description="BlogQueue management.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run Redis (unless configured), the API and the workers")
    doctor = commands.add_parser("doctor", help="check Redis, workers, a job round trip and the database")
    doctor.add_argument("--json", action="store_true", help="print the report as one JSON object")

    database = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    database.add_parser("upgrade", help="apply all migrations")

    user_actions = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = user_actions.add_parser("create", help="create a user")
    create.add_argument("--admin", action="store_true", help="make the user an admin")
    user_actions.add_parser("list", help="list users")
    for action, text in [("disable", "stop a user signing in"), ("enable", "let a user sign in again")]:
        user_actions.add_parser(action, help=text).add_argument("--email", required=True)
    set_password = user_actions.add_parser("set-password", help="set a user's password")
    for command in (create, set_password):
        command.add_argument("--email", required=True)
        command.add_argument("--password", help="the password (omit to be prompted, or pipe it on stdin)")

    key_actions = commands.add_parser("keys", help="encryption keys").add_subparsers(
        dest="action", required=True
    )
    key_actions.add_parser("generate", help="print a new key for BLOGQUEUE_ENCRYPTION_KEYS")
    key_actions.add_parser("rotate", help="re-encrypt every stored provider key with the newest ring key")
    _client_parsers(commands)
    return parser


def _client_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that drive a running API over HTTP (blogops.client)."""
    login = commands.add_parser("login", help="sign in to the API and save the token for the commands below")
    login.add_argument("--email", required=True)
    login.add_argument("--password", help="the password (omit to be prompted, or pipe it on stdin)")
    generate = commands.add_parser("generate", help="start a generation run; --wait follows it live")
    generate.add_argument("--source", default="popular", help="popular, top_rated, trending, discover, ...")
    generate.add_argument("--media", default="movie", help="movie or tv")
    generate.add_argument("--count", type=int, default=5, help="posts to write (per tick when continuous)")
    generate.add_argument("--model", help="a model id (default: your preferred one); 'offline' needs no key")
    generate.add_argument("--min-rating", type=float, metavar="R")
    generate.add_argument("--year-from", type=int, metavar="YEAR")
    generate.add_argument("--year-to", type=int, metavar="YEAR")
    generate.add_argument("--adult", action="store_true", help="include adult titles")
    generate.add_argument(
        "--budget", type=float, metavar="USD", help="stop the run once it has cost this much"
    )
    generate.add_argument(
        "--continuous", action="store_true", help="plan more posts on a schedule until stopped"
    )
    generate.add_argument("--every", type=int, metavar="MINUTES", help="a continuous run's interval")
    generate.add_argument("--cron", metavar="PATTERN", help="a continuous run's cron schedule")
    generate.add_argument(
        "--wait", action="store_true", help="show live progress (Ctrl-C leaves the run running)"
    )
    stop = commands.add_parser("stop", help="stop a run (without --run: all your active runs)")
    status = commands.add_parser("status", help="your active and recent runs, and the queue's job counts")
    status.add_argument("--json", action="store_true", help="print the API's answer as it is")
    for command in (stop, status):
        command.add_argument("--run", type=int, metavar="ID")
    for command in (login, generate, stop, status):
        command.add_argument("--url", help="the API's address (default http://BLOGQUEUE_HOST:BLOGQUEUE_PORT)")


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "up":
        return run_up(settings)
    if args.command == "db":
        return db_command(settings, args)
    if args.command == "users":
        return asyncio.run(users_command(settings, args))
    if args.command == "keys":
        return asyncio.run(keys_command(settings, args))
    if args.command in CLIENT_COMMANDS:
        return client_command(settings, args)
    report = asyncio.run(diagnose(settings))
    print(msgspec.json.encode(report).decode() if args.json else render(report))
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as err:
        sys.exit(f"error: invalid settings:\n{err}")
    configure_logging(settings)
    try:
        sys.exit(_run(settings, args))
    except BlogQueueError as err:
        sys.exit(f"error: {err.message}")


if __name__ == "__main__":
    main()
