"""A light HTTP/1.1 client for the run-start measurements, on plain asyncio streams over keep-alive
connections opened beforehand (as a proxy in front of the API keeps them): an open loop for bursts
(requests leave on a schedule, whatever the answers) and a closed loop for capacity. httpx on the
same two cores as the API could not keep a burst's schedule (at ~470 req/s it took 88 % of a core
and its requests reached the API seconds late) and took a third of a core from two API processes;
this client costs a small fraction of that per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit


class Answer(NamedTuple):
    status: int
    retry_after: bool


OnAnswer = Callable[[float, Answer | None], None]  # (a time, the answer or None on a timeout)


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


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


class _Connection:
    def __init__(self, url: str, request: bytes, timeout_s: float) -> None:
        self._address = _address(url)
        self._request = request
        self._timeout_s = timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> None:
        self._streams = await asyncio.open_connection(*self._address)

    async def exchange(self) -> Answer | None:
        """Send the request and read its answer; None (and a fresh connection) if none came in time."""
        if self._streams is None:
            await self.open()
        assert self._streams is not None
        reader, writer = self._streams
        writer.write(self._request)
        try:
            return await asyncio.wait_for(_read_answer(reader), self._timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            self.close()  # its state is unknown: the next request starts afresh
            return None

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


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
    request waits for a free connection if all are busy (its wait counts: `on_answer` gets its
    scheduled send time). Returns how long sending took."""
    scheduled: asyncio.Queue[float | None] = asyncio.Queue()
    pool = [_Connection(url, request, timeout_s) for _ in range(connections)]
    await asyncio.gather(*(connection.open() for connection in pool))

    async def sender(connection: _Connection) -> None:
        try:
            while (when := await scheduled.get()) is not None:
                on_answer(when, await connection.exchange())
        finally:
            connection.close()

    senders = [asyncio.create_task(sender(connection)) for connection in pool]
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


async def closed_loop(
    url: str, request: bytes, *, clients: int, duration_s: float, timeout_s: float, on_answer: OnAnswer
) -> float:
    """`clients` connections, each sending its next request once the last is answered, for
    `duration_s`; `on_answer` gets each request's send time. Returns how long it took."""
    pool = [_Connection(url, request, timeout_s) for _ in range(clients)]
    await asyncio.gather(*(connection.open() for connection in pool))
    started = time.perf_counter()
    deadline = started + duration_s

    async def client(connection: _Connection) -> None:
        try:
            while (sent := time.perf_counter()) < deadline:
                on_answer(sent, await connection.exchange())
        finally:
            connection.close()

    await asyncio.gather(*(client(connection) for connection in pool))
    return time.perf_counter() - started
