"""A fake OpenAI + Anthropic + Gemini API in one raw ASGI app, served by uvicorn on 127.0.0.1 in a thread.

    with start_fake_ai() as fake:       # or latency_s=0.2 (env FAKE_AI_LATENCY_S), chunk_chars=4 for benchmarks
        OpenAIGenerator(key, base_url=f"{fake.url}/v1")    # Anthropic and Gemini: base_url=fake.url
        fake.calls_for(key)             # every request with that key: provider, model, stream, body, headers

Routes, as the real SDKs call them:
    POST /v1/chat/completions                          OpenAI (JSON, or SSE with a usage chunk and [DONE])
    POST /v1/responses                                 OpenAI Responses API (JSON, or its typed SSE events)
    POST /v1/messages                                  Anthropic (JSON, or message_start ... message_stop events)
    POST /v1/models/{model}:generateContent            Gemini (JSON)
    POST /v1/models/{model}:streamGenerateContent      Gemini (?alt=sse)

Magic substrings of the API key choose the behaviour (first match in this order wins):
    no key         401 (Gemini: 403)
    -badkey        401 (Gemini: 400 INVALID_ARGUMENT, reason API_KEY_INVALID). The message echoes the key,
                   as a careless server might, so tests can prove our errors scrub it.
    (model id containing "missing")  404: OpenAI model_not_found, Anthropic not_found_error, Gemini NOT_FOUND
    -quota         429 billing wall: OpenAI code insufficient_quota, Anthropic enforced_spend_limit_reached,
                   Gemini QuotaFailure on a per-day quota (no RetryInfo)
    -ratelimit     429 + `retry-after: 2` (Gemini: RetryInfo retryDelay "2s") on the key's first call, then success
    -flaky         500 on the key's first call, then success
    -slow          answers only after `slow_s` (5 s), or never if the client gives up first
    -refuse        OpenAI: delta/message `refusal`; Anthropic: stop_reason "refusal"; Gemini: finishReason SAFETY
    -truncate      the first half of a post, finish length / max_tokens / MAX_TOKENS
    anything else  a post about the prompt's `Title: <name> (<year>)` line, in the envelope contract
                   (JSON line, "---", markdown; blogworker.envelope), streamed in 6 deltas (or deltas of
                   `chunk_chars` characters, ~4 for a token each, as real providers stream); usage 1200 in /
                   800 out (Gemini: 700 candidates + 100 thoughts)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from blogfakes.ai_wire import FAILURES, Answer, answer_events, answer_json, error_response

_GEMINI = re.compile(
    r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)
_TITLE = re.compile(r"^Title: *(.+?) *$", re.MULTILINE)
EVENTS_PER_WRITE = 64
_JSON_APIS = {"/v1/chat/completions": "openai", "/v1/responses": "responses", "/v1/messages": "anthropic"}
_MAGIC = ("badkey", "quota", "ratelimit", "flaky", "slow", "refuse", "truncate")


@dataclass
class Call:
    provider: str
    model: str
    stream: bool
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeAI:
    latency_s: float = field(default_factory=lambda: float(os.environ.get("FAKE_AI_LATENCY_S", "0")))
    slow_s: float = 5.0
    chunk_delay_s: float = 0.0  # pause between streamed events, so a test can act mid-stream
    chunk_chars: int = 0  # characters per streamed delta; 0: a post in 6 deltas
    url: str = ""
    calls: dict[str, list[Call]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_for(self, api_key: str) -> list[Call]:
        with self._lock:
            return list(self.calls.get(api_key, []))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = await _read_body(receive)
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        call, key = _route(scope["path"], parse_qs(scope["query_string"].decode()), headers, body)
        if call is None:
            return await _send(send, 404, {"error": {"message": f"no route {scope['path']}"}})
        with self._lock:
            self.calls[key].append(call)
            first = len(self.calls[key]) == 1
        outcome = _outcome(key, call.model, first)
        if outcome == "slow" and await _disconnects_within(receive, self.slow_s):
            return None
        await asyncio.sleep(self.latency_s)
        if outcome in FAILURES:
            status, payload, extra = error_response(call.provider, outcome, call.model, key)
            return await _send(send, status, payload, extra)
        answer = _answer(call.model, body, outcome, self.chunk_chars)
        if call.stream:
            return await _send_events(send, answer_events(call.provider, answer), self.chunk_delay_s)
        return await _send(send, 200, answer_json(call.provider, answer))


def _route(
    path: str, query: dict[str, list[str]], headers: dict[str, str], body: dict[str, Any]
) -> tuple[Call | None, str]:
    bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
    if path in _JSON_APIS:
        provider = _JSON_APIS[path]
        key = bearer or headers.get("x-api-key", "") if provider == "anthropic" else bearer
        return Call(provider, str(body.get("model", "")), bool(body.get("stream")), body, headers), key
    match = _GEMINI.match(path)
    if match is None:
        return None, ""
    key = headers.get("x-goog-api-key") or query.get("key", [""])[0]
    return Call("gemini", match["model"], match["method"] == "streamGenerateContent", body, headers), key


def _outcome(key: str, model: str, first_call: bool) -> str:
    if not key:
        return "nokey"
    magic = next((magic for magic in _MAGIC if f"-{magic}" in key), "ok")
    if magic == "badkey":
        return magic
    if "missing" in model:
        return "missing"
    return "ok" if magic in ("ratelimit", "flaky") and not first_call else magic


def _answer(model: str, body: dict[str, Any], outcome: str, chunk_chars: int) -> Answer:
    if outcome == "refuse":
        return Answer(model, "", "refusal")
    found = _TITLE.search("\n".join(_strings(body)))
    text = _post(found[1] if found else "Untitled")
    if outcome == "truncate":
        return Answer(model, text[: len(text) // 2], "length", chunk_chars)
    return Answer(model, text, "stop", chunk_chars)


def _post(named: str) -> str:
    """A post that passes the pipeline's quality gate: named heading, four sections, over 900 characters."""
    envelope = {"title": f"{named}: a second look", "excerpt": f"Why {named} is worth an evening.",
                "tags": ["review", "drama", "classic"]}  # fmt: skip
    sections = {
        "Introduction": f"{named} arrives with a premise that is simple to state and harder to shake. This "
        "review looks at what it sets out to do, who made it, and whether it earns the evening you give it. "
        "It is spoiler-light throughout: the surprises are yours to find.",
        "Why watch": "The story moves with purpose, the central performances are specific and lived-in, and "
        "the craft behind the camera supports the story instead of competing with it.\n\n- Strong "
        "performances\n- A story that holds up on a second viewing\n- A confident, unhurried pace",
        "Cast and crew": "- **A. Actor** as the lead, carrying the film's quieter moments\n- **B. Actor** in "
        "a supporting role that steals scenes\n- Directed by **C. Director**, with a steady hand",
        "Verdict": f"{named} is worth watching: not flawless, but made with care, and the kind of title "
        "that rewards the attention you bring to it. Put it on your list for a free evening, and watch it "
        "somewhere you can give it your full attention.",
    }
    body = f"# {named}\n\n" + "\n\n".join(f"## {name}\n\n{text}" for name, text in sections.items())
    return json.dumps(envelope) + "\n---\n" + body + "\n"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a request body: the prompt sits in a different field for each provider."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings(item)


async def _read_body(receive: Any) -> dict[str, Any]:
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            body: dict[str, Any] = json.loads(raw or b"{}")
            return body


async def _disconnects_within(receive: Any, seconds: float) -> bool:
    try:
        await asyncio.wait_for(receive(), timeout=seconds)  # the next message can only be http.disconnect
    except TimeoutError:
        return False
    return True


async def _send(
    send: Any, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    extra = [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *extra]})  # fmt: skip
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def _send_events(send: Any, events: Iterator[bytes], delay_s: float = 0.0) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for batch in _batches(events, 1 if delay_s else EVENTS_PER_WRITE):
        await send({"type": "http.response.body", "body": batch, "more_body": True})
        await asyncio.sleep(delay_s)
    await send({"type": "http.response.body", "body": b""})


def _batches(events: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Events joined `size` at a time: one write per event when a test paces them, as a real stream
    arrives; a few writes per answer otherwise, so a benchmark's fake costs little next to the client."""
    batch: list[bytes] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


@contextmanager
def start_fake_ai(*, latency_s: float | None = None, chunk_chars: int = 0) -> Iterator[FakeAI]:
    """Serve a FakeAI on a free 127.0.0.1 port until the block ends; `.url` is its base URL."""
    app = (
        FakeAI(chunk_chars=chunk_chars)
        if latency_s is None
        else FakeAI(latency_s=latency_s, chunk_chars=chunk_chars)
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # handed to uvicorn, so there is no race for the port
    app.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, lifespan="off", ws="none", http="httptools", loop="asyncio", log_config=None,
                            access_log=False, timeout_graceful_shutdown=1)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake AI server did not start")
        time.sleep(0.01)
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
