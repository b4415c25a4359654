"""`blogqueue`: the management command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec
from pydantic import ValidationError

from blogqueue.doctor import diagnose, render
from blogqueue.logs import configure_logging
from blogqueue.settings import Settings
from blogqueue.supervisor import run_up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blogqueue", description="BlogQueue management.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run Redis (unless configured), the API and the workers")
    doctor = commands.add_parser("doctor", help="check Redis, workers, a job round trip and the database")
    doctor.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as err:
        sys.exit(f"error: invalid settings:\n{err}")
    configure_logging(settings)
    if args.command == "up":
        sys.exit(run_up(settings))
    report = asyncio.run(diagnose(settings))
    print(msgspec.json.encode(report).decode() if args.json else render(report))  # noqa: T201 - user-facing output
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
