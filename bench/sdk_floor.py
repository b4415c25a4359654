"""The floor under a post's CPU while we stay on the official SDKs: one streamed call through the
SDK alone (the same API and client settings as our adapter, an empty loop over its stream), timed
in CPU of this thread only (the fake servers run in threads of their own).

Used by bench/pipeline.py; run alone: .venv/bin/python bench/sdk_floor.py [--chunk-chars 4] [--calls 200].
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # bench/queue.py would shadow the stdlib `queue`

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
from google import genai
from google.genai import types

from blogfakes.ai_server import start_fake_ai

MODELS = {"openai": "gpt-6.2-sol", "anthropic": "claude-sonnet-5-5", "gemini": "gemini-3.8-flash"}
KEY = "sk-bench-floor"
SYSTEM = "You write blog posts about movies."
PROMPT = "Write a review.\nTitle: Bench Movie (2020)\n"
MAX_TOKENS = 4096
WARM_UP_CALLS = 5

Call = Callable[[], Awaitable[int]]  # one streamed call; returns how many stream events it read


@dataclass(frozen=True)
class Floor:
    cpu_ms_per_call: float
    events_per_call: float

    @property
    def us_per_event(self) -> float:
        return self.cpu_ms_per_call * 1000 / max(self.events_per_call, 1)


def _timeout() -> httpx2.Timeout:
    return httpx2.Timeout(30.0, connect=5.0)


def openai_call(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0, timeout=_timeout())
    messages: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]

    async def call() -> int:
        stream = await client.chat.completions.create(
            model=MODELS["openai"], messages=messages, stream=True, stream_options={"include_usage": True},
            max_completion_tokens=MAX_TOKENS,
        )  # fmt: skip
        events = 0
        async with stream:
            async for _chunk in stream:
                events += 1
        return events

    return call, client.close


def openai_responses_call(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """The Responses API, which OpenAI recommends for current models (our adapter uses Chat Completions)."""
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0, timeout=_timeout())

    async def call() -> int:
        stream = await client.responses.create(
            model=MODELS["openai"],
            instructions=SYSTEM,
            input=PROMPT,
            stream=True,
            max_output_tokens=MAX_TOKENS,
        )
        events = 0
        async with stream:
            async for _event in stream:
                events += 1
        return events

    return call, client.close


def anthropic_call(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url=url, max_retries=0, timeout=_timeout())
    messages: Any = [{"role": "user", "content": PROMPT}]

    async def call() -> int:
        events = 0
        stream = await client.messages.create(
            model=MODELS["anthropic"], max_tokens=MAX_TOKENS, system=SYSTEM, messages=messages, stream=True
        )
        async with stream:
            async for _event in stream:
                events += 1
        return events

    return call, client.close


def gemini_call(url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    options = types.HttpOptions(base_url=url, api_version="v1", timeout=30_000)
    client = genai.Client(api_key=KEY, http_options=options)
    config = types.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=MAX_TOKENS)

    async def call() -> int:
        events = 0
        stream = await client.aio.models.generate_content_stream(
            model=MODELS["gemini"], contents=PROMPT, config=config
        )
        async for _chunk in stream:
            events += 1
        return events

    return call, client.aio.aclose


CALLS = {"openai": openai_call, "openai-responses": openai_responses_call, "anthropic": anthropic_call,
         "gemini": gemini_call}  # fmt: skip


async def measure(provider: str, url: str, calls: int) -> Floor:
    """CPU per call of the SDK alone, against a fake AI server without latency at `url`."""
    call, close = CALLS[provider](url)
    try:
        for _ in range(WARM_UP_CALLS):  # imports, the connection pool, pydantic's first validators
            await call()
        started, events = time.thread_time(), 0
        for _ in range(calls):
            events += await call()
        cpu_s = time.thread_time() - started
    finally:
        await close()
    return Floor(cpu_s * 1000 / calls, events / calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chunk-chars", type=int, default=4, help="characters per streamed delta (default 4)"
    )
    parser.add_argument("--calls", type=int, default=200, help="timed calls per provider (default 200)")
    args = parser.parse_args()
    with start_fake_ai(latency_s=0, chunk_chars=args.chunk_chars) as fake:
        for provider in CALLS:
            floor = asyncio.run(measure(provider, fake.url, args.calls))
            print(f"{provider:<16} {floor.cpu_ms_per_call:6.2f} ms/call, "
                  f"{floor.events_per_call:5.0f} events, {floor.us_per_event:5.1f} us/event")  # fmt: skip


if __name__ == "__main__":
    main()
