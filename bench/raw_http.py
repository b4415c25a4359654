"""An open-loop HTTP/1.1 client for bursts: requests leave on a schedule, whatever the answers, over
keep-alive connections opened beforehand (as a proxy in front of the API keeps them), on plain
asyncio streams. httpx on the same two cores as the API could not keep a burst's schedule: at ~470
req/s it took 88 % of a core and its requests reached the API seconds late, which the API was then
blamed for. This client costs a small fraction of that per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit


class Answer(NamedTuple):
    status: int
    retry_after: bool


OnAnswer = Callable[[float, Answer | None], None]  # (scheduled send time, answer or None on timeout)


def encode_request(method: str, url: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"{method} {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    status = int((await reader.readline()).split(b" ", 2)[1])
    length, chunked, retry_after = 0, False, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"retry-after":
            retry_after = True
    if not chunked:
        await reader.readexactly(length)
        return Answer(status, retry_after)
    while size := int((await reader.readline()).strip(), 16):
        await reader.readexactly(size + 2)
    await reader.readline()
    return Answer(status, retry_after)


async def open_loop(
    url: str,
    request: bytes,
    *,
    rate: float,
    total: int,
    connections: int,
    timeout_s: float,
    on_answer: OnAnswer,
) -> float:
    """Send `request` `total` times, the i-th at start + i/rate, over `connections` connections; a
    request waits for a free connection if all are busy (its wait counts: time runs from its
    scheduled send). Returns how long sending took."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    scheduled: asyncio.Queue[float | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (when := await scheduled.get()) is not None:
                writer.write(request)
                try:
                    answer = await asyncio.wait_for(_read_answer(reader), timeout_s)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    on_answer(when, None)
                    writer.close()  # its state is unknown: start afresh
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                on_answer(when, answer)
        finally:
            writer.close()

    senders = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # every connection open before the first request is due
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        scheduled.put_nowait(due)
    send_s = time.perf_counter() - started
    for _ in senders:
        scheduled.put_nowait(None)
    await asyncio.gather(*senders)
    return send_s
