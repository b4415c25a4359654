"""Where a worker's CPU goes: a py-spy raw profile (collapsed stacks) summed into a few buckets.

Run: .venv/bin/python bench/profile.py PROFILE.raw [...] (bench/pipeline.py --profile DIR writes them).
Each sample counts once, for the innermost frame that belongs to a known library (else "our code").
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (bucket, frame file prefixes), innermost match wins; the order only breaks ties within a frame.
BUCKETS = [
    ("SQLAlchemy ORM", ("sqlalchemy/orm/", "sqlmodel/")),
    ("SQLAlchemy Core + engine", ("sqlalchemy/",)),
    ("aiosqlite + sqlite3", ("aiosqlite/", "sqlite3/")),
    ("asyncpg", ("asyncpg/",)),
    ("OpenAI SDK", ("openai/",)),
    ("Anthropic SDK", ("anthropic/",)),
    ("Gemini SDK", ("google/", "genai/")),
    ("pydantic (SDK models)", ("pydantic/", "pydantic_core/")),
    ("HTTP client (httpx, httpcore)", ("httpx/", "httpx2/", "httpcore/", "httpcore2/", "h11/", "anyio/")),
    ("bullmq", ("bullmq/",)),
    ("redis-py", ("redis/",)),
    ("TMDb client", ("blogqueue/tmdb.py",)),
    ("logging (structlog)", ("structlog/", "logging/")),
    ("asyncio loop", ("asyncio/", "selectors.py", "uvloop/")),
]
_FRAME = re.compile(r"\((?P<file>[^():]+):\d+\)$")


def bucket_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        match = _FRAME.search(frame)
        path = match["file"] if match else ""
        for name, prefixes in BUCKETS:
            if path.startswith(prefixes) or any(f"/{p}" in path for p in prefixes):
                return name
    return "our code and the rest"


def summarize(paths: list[Path], process: str = "blogworker") -> Counter[str]:
    """Samples per bucket, of the processes whose command line names `process` (a profile of one
    process names none)."""
    counts: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, samples = line.rpartition(" ")
            if not samples.isdigit():
                continue  # py-spy cut short mid-line
            frames = stack.split(";")
            named = [f for f in frames if f.startswith("process ")]
            if "_find_and_load" in stack or (named and not any(process in f for f in named)):
                continue  # an import (start-up, not a post), or another process of a --subprocesses profile
            counts[bucket_of([f for f in frames if not f.startswith(("process ", "thread "))])] += int(
                samples
            )
    return counts


def table(counts: Counter[str], cpu_ms_per_post: float | None = None) -> str:
    total = sum(counts.values()) or 1
    rows = [
        "| where | share |" + (" ms/post |" if cpu_ms_per_post else ""),
        "|---|---|" + ("---|" if cpu_ms_per_post else ""),
    ]
    for name, samples in counts.most_common():
        share = samples / total
        ms = f" {share * cpu_ms_per_post:.1f} |" if cpu_ms_per_post else ""
        rows.append(f"| {name} | {share:.0%} |{ms}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--cpu-ms", type=float, help="CPU ms per post, to show each bucket's share in ms")
    args = parser.parse_args()
    print(table(summarize(args.profiles), args.cpu_ms))


if __name__ == "__main__":
    main()
