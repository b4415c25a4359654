"""The live event stream (Server-Sent Events) against a real HTTP server and a real worker."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from blogqueue.settings import Settings
from tests.conftest import serve_app
from tests.webapi.conftest import PASSWORD, create_accounts

BASE = "/api/admin/blog/auto-generate"
RUN = {"source": "popular", "mediaType": "movie", "count": 3, "model": "offline"}


async def _events(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    """Parse an SSE stream into {id, event, data} dicts."""
    async with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=30)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        message: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in message:
                    yield message
                message = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                message[name] = json.loads(value.strip()) if name == "data" else value.strip()


async def _collect(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], until: Any
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async for message in _events(client, url, headers):
        seen.append(message)
        if until(seen):
            break
    return seen


async def test_a_run_streams_its_events_and_a_reconnect_misses_nothing(
    sqlite_settings: Settings, start_worker: Any
) -> None:
    await create_accounts(sqlite_settings)
    with serve_app(sqlite_settings) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            login = await client.post(
                "/api/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            client.cookies.clear()  # from here on, only the headers say who is asking
            assert (await client.get(f"{BASE}/events")).status_code == 401
            other = await client.post(
                "/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD}
            )
            assert (
                await client.get(
                    f"{BASE}/events", headers={"Authorization": f"Bearer {other.json()['token']}"}
                )
            ).status_code == 403

            listener = asyncio.create_task(
                _collect(client, f"{BASE}/events", headers, lambda seen: len(seen) >= 4)
            )
            await asyncio.sleep(0.5)  # the stream is open before anything happens
            start_worker(sqlite_settings)
            started = await client.post(BASE, json=RUN, headers=headers)
            run_id = started.json()["runId"]
            first = await asyncio.wait_for(listener, timeout=30)
            resumed = await asyncio.wait_for(
                _collect(client, f"{BASE}/events?runId={run_id}", {**headers, "Last-Event-ID": first[-1]["id"]},
                         lambda seen: seen[-1]["event"] == "run-finished"),
                timeout=30,
            )  # fmt: skip
    everything = first + resumed
    ids = [message["id"] for message in everything]
    assert len(ids) == len(set(ids))  # nothing twice...
    assert ids == sorted(ids, key=lambda entry: tuple(int(part) for part in entry.split("-")))  # ...in order
    kinds = [message["event"] for message in everything]
    assert {"run-log", "run-progress", "post-saved", "run-finished"} <= set(kinds)
    assert kinds.count("post-saved") == 3  # ...and nothing missed across the reconnect
    assert all(message["data"]["runId"] == run_id for message in everything)
    about = {message["data"]["jobId"]: found[1] for message in everything
             if (found := re.match(r"writing about (.+) \(\d{4}\) with ", message["data"]["message"]))}  # fmt: skip
    said = {message["data"]["jobId"]: message["data"].get("title") for message in everything
            if message["event"] == "run-progress" and message["data"]["stage"] == "saved"}  # fmt: skip
    assert len(said) == 3 and said == about  # a post's progress names its title: never just its TMDb id
    finished = everything[-1]["data"]
    assert (finished["kind"], finished["postsDone"], finished["status"]) == ("run-finished", 3, "completed")
