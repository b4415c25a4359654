"""`blogqueue login | generate | stop | status`: the auto-generate workflow from a terminal, over the
HTTP API, with live progress read from the API's Server-Sent Events."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from argparse import Namespace
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import httpx
import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from blogops.manage import read_password
from blogqueue import errors, run_events
from blogqueue.jobqueue import QueueMetrics
from blogqueue.models import RunMode, RunStatus
from blogqueue.payloads import FiltersIn
from blogqueue.run_events import PostSaved, RunEvent, RunFinished
from blogqueue.schemas import AutoGenerateRequest, ErrorBody, RunView, StartedRun, StopReport
from blogqueue.secrets_store import write_private
from blogqueue.settings import Settings

COMMANDS = ("login", "generate", "stop", "status")
BASE = "/api/admin/blog/auto-generate"
TOKEN_ENV = "BLOGQUEUE_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_FILE = "cli-token"  # noqa: S105 - a file name, not a secret
TIMEOUT = httpx.Timeout(15.0)
STREAM_TIMEOUT = httpx.Timeout(15.0, read=40.0)  # the API sends a keep-alive comment every 15 s
RECONNECT_DELAY_S = 1.0
RECONNECT_TRIES = 30  # how long a restarting API may take before `--wait` gives up
INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C
ERRORS: dict[int, type[errors.BlogQueueError]] = {
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
}
# API fields whose `generate` option is not simply their kebab-case name (minRating -> --min-rating).
RENAMED = {
    "mediaType": "--media",
    "budgetUsd": "--budget",
    "intervalMinutes": "--every",
    "mode": "--continuous",
}


class Status(msgspec.Struct):
    runs: list[RunView]
    queue: QueueMetrics


class ServerSentEvent(NamedTuple):
    id: str | None
    event: str
    data: str


def parse_sse(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """The text/event-stream format: `field: value` lines, a blank line dispatches, ':' starts a comment."""
    event_id: str | None = None  # kept for later events too, as the spec's "last event ID" is
    name = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield ServerSentEvent(event_id, name, "\n".join(data))
            name, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)


def _raise_for(response: httpx.Response, *, signing_in: bool = False) -> None:
    """An error answer as our own error, with the API's message (reading it also closes a stream)."""
    if response.is_success:
        return
    try:
        body = msgspec.json.decode(response.read(), type=ErrorBody)
    except (msgspec.DecodeError, msgspec.ValidationError):
        body = ErrorBody(error=response.text[:200] or response.reason_phrase, status=response.status_code)
    code = response.status_code
    if code == 401:
        hint = "" if signing_in else " - sign in with `blogqueue login --email ...`"
        raise errors.Unauthorized(f"{body.error or 'not signed in'}{hint}")
    if code == 422:
        raise errors.InvalidInput(
            body.error, errors=[(item.field or "", item.message) for item in body.details or []]
        )
    if code in ERRORS:
        raise ERRORS[code](body.error)
    raise errors.BlogQueueError(f"the API answered {code}: {body.error}")


def _unreachable(url: httpx.URL, err: httpx.TransportError) -> errors.Unavailable:
    return errors.Unavailable(
        f"cannot reach the API at {url} ({type(err).__name__}): is ./scripts/up running?"
    )


class Api:
    """The sign-in and auto-generate endpoints over one httpx client."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(self, method: str, path: str, *, signing_in: bool = False, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise _unreachable(self.http.base_url, err) from err
        _raise_for(response, signing_in=signing_in)
        return response

    def login(self, email: str, password: str) -> str:
        body = {"email": email, "password": password}
        response = self.call("POST", "/api/auth/login", json=body, signing_in=True)
        return msgspec.json.decode(response.content, type=dict[str, str])["token"]

    def start(self, request: AutoGenerateRequest) -> StartedRun:
        response = self.call("POST", BASE, json=msgspec.to_builtins(request))
        return msgspec.json.decode(response.content, type=StartedRun)

    def status(self, run_id: int | None = None) -> httpx.Response:
        return self.call("GET", f"{BASE}/status", params={"runId": run_id} if run_id else {})

    def run(self, run_id: int) -> RunView:
        return msgspec.json.decode(self.status(run_id).content, type=Status).runs[0]

    def stop(self, run_id: int | None) -> list[StopReport]:
        response = self.call("POST", f"{BASE}/stop", json={"runId": run_id} if run_id else {})
        return msgspec.json.decode(response.content, type=dict[str, list[StopReport]])["stopped"]


class EventFeed:
    """The caller's run events from the moment `open()` connects, only `run_id`'s once it is set;
    a dropped connection is resumed with Last-Event-ID, so no event in between is lost."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.run_id: int | None = None
        self.last_id: str | None = None
        self._response: httpx.Response | None = None

    def open(self) -> None:
        params = {"runId": self.run_id} if self.run_id else {}
        headers = {"last-event-id": self.last_id} if self.last_id else {}
        request = self.api.http.build_request(
            "GET", f"{BASE}/events", params=params, headers=headers, timeout=STREAM_TIMEOUT
        )
        try:
            response = self.api.http.send(request, stream=True)
        except httpx.TransportError as err:
            raise _unreachable(self.api.http.base_url, err) from err
        _raise_for(response)
        self._response = response

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def __iter__(self) -> Iterator[RunEvent]:
        tries = 0
        while True:
            try:
                if self._response is None:
                    self.open()
                tries = 0
                yield from self._read(self._response)
            except (errors.Unavailable, httpx.TransportError):
                tries += 1
                if tries > RECONNECT_TRIES:
                    raise
                time.sleep(RECONNECT_DELAY_S)
            finally:
                self.close()  # a stream that ended or broke is reopened from the last id

    def _read(self, response: httpx.Response | None) -> Iterator[RunEvent]:
        for message in parse_sse(response.iter_lines() if response else ()):
            self.last_id = message.id or self.last_id
            event = run_events.decode(message.data)
            if self.run_id in (None, event.run_id):
                yield event


def login(settings: Settings, api: Api, args: Namespace, out: Console) -> int:
    token = api.login(args.email, read_password(args))
    path = settings.secrets_dir / TOKEN_FILE
    path.unlink(missing_ok=True)  # created afresh, so it is 0600 whatever the old file was
    write_private(path, token)
    out.print(f"signed in as {args.email}; token saved to {path}")
    if os.environ.get(TOKEN_ENV):
        out.print(f"note: {TOKEN_ENV} is set, and wins over the saved token")
    return 0


def _request(args: Namespace) -> AutoGenerateRequest:
    mode = RunMode.CONTINUOUS if args.continuous else RunMode.BATCH
    filters = FiltersIn(min_rating=args.min_rating, year_from=args.year_from, year_to=args.year_to,
                        include_adult=args.adult)  # fmt: skip
    return AutoGenerateRequest(source=args.source, media_type=args.media, count=args.count, model=args.model,
                               mode=mode.value, filters=filters, interval_minutes=args.every, cron=args.cron,
                               budget_usd=args.budget)  # fmt: skip


def generate(api: Api, args: Namespace, out: Console) -> int:
    with contextlib.closing(EventFeed(api)) as feed:
        if args.wait:
            feed.open()  # before the run starts, so that none of its events can be missed
        started = api.start(_request(args))
        feed.run_id = run_id = started.run_id
        try:
            _announce(started, args.wait, out)
            return _watch(api, feed, run_id, out) if args.wait else 0
        except KeyboardInterrupt:
            out.print(f"run {run_id} keeps running; stop it with: blogqueue stop --run {run_id}")
            return INTERRUPTED


def _announce(started: StartedRun, waiting: bool, out: Console) -> None:
    estimate = started.estimate
    out.print(f"run {started.run_id} started: {started.mode}, {started.status}, model {estimate.model}")
    out.print(f"jobs: {', '.join(started.job_ids)}")
    out.print(f"estimate: {estimate.posts} posts x ${estimate.per_post_usd:.4f} = "
              f"${estimate.total_usd:.4f} ({estimate.assumption})")  # fmt: skip
    if not waiting:
        out.print(f"follow it: blogqueue status --run {started.run_id}")


def _watch(api: Api, feed: EventFeed, run_id: int, out: Console) -> int:
    """A live bar (posts done of planned, and failed) with the run's log lines, until it finishes."""
    columns = (TextColumn(f"run {run_id}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("posts, {task.fields[failed]} failed"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=out) as bar:
        task = bar.add_task("posts", total=None, failed=0)

        def refresh() -> RunView:
            view = api.run(run_id)
            bar.update(task, completed=view.done, total=view.planned or view.requested, failed=view.failed)
            return view

        view = refresh()
        for event in feed:
            if not isinstance(event, run_events.Progress):  # progress events are per job, the bar is per run
                view = refresh()
                bar.console.print(_line(event))
            if isinstance(event, RunFinished):
                break
    out.print(
        f"run {run_id} {view.state}: {view.done} posts saved, {view.failed} failed, ${view.cost_usd:.4f}"
        + (f" ({view.message})" if view.message else "")
    )
    return 0 if view.state == RunStatus.COMPLETED and view.failed == 0 else 1


def _line(event: RunEvent) -> str:
    if isinstance(event, PostSaved):
        return f"saved: {event.message} ({event.data.slug})"
    labels = {"post-failed": "failed", "run-finished": "finished"}
    return f"{labels.get(event.kind, event.job_id)}: {event.message}"


def stop(api: Api, args: Namespace, out: Console) -> int:
    reports = api.stop(args.run)
    for report in reports:
        if report.already_stopped:
            out.print(f"run {report.run_id} already stopped ({report.status})")
        else:
            out.print(f"run {report.run_id} stopped: {report.removed} queued jobs removed, "
                      f"{report.cancelling} active jobs cancelling, "
                      f"{report.released} unwritten titles back to the pool")  # fmt: skip
    if not reports:
        out.print("no active runs to stop")
    return 0


def _clock(epoch_ms: int | None) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000).strftime("%H:%M:%S") if epoch_ms else "-"


def _mode(run: RunView) -> str:
    every = f" every {run.interval_minutes} min" if run.interval_minutes else ""
    return run.mode + every + (f" cron {run.cron}" if run.cron else "")


def status(api: Api, args: Namespace, out: Console) -> int:
    response = api.status(args.run)
    if args.json:
        sys.stdout.write(response.text + "\n")
        return 0
    found = msgspec.json.decode(response.content, type=Status)
    table = Table("run", "mode", "state", "written/planned", "failed", "cost", "next tick")
    for run in found.runs:
        table.add_row(str(run.id), _mode(run), run.state, f"{run.done}/{run.planned}", str(run.failed),
                      f"${run.cost_usd:.4f}", _clock(run.next_tick_at))  # fmt: skip
    out.print(table if found.runs else "no runs yet")
    counts = msgspec.structs.asdict(found.queue)
    out.print("queue: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return 0


def _token(settings: Settings) -> str:
    path = settings.secrets_dir / TOKEN_FILE
    token = os.environ.get(TOKEN_ENV) or (path.read_text().strip() if path.is_file() else "")
    if not token:
        raise errors.Unauthorized(f"not signed in: run `blogqueue login --email ...` (or set {TOKEN_ENV})")
    return token


def _option(field: str) -> str:
    """The `generate` option behind an API field, so a rejected field is named as the person typed it."""
    name = field.removeprefix("filters.")
    return RENAMED.get(name) or "--" + re.sub("([A-Z])", r"-\1", name).lower()


def client_command(settings: Settings, args: Namespace) -> int:
    """Run one client command. Rejected fields are printed one a line (exit 2); other errors are
    raised for `cli.main` to print (exit 1)."""
    out = Console(markup=False, highlight=False, soft_wrap=True)  # API text may hold [brackets]
    url = args.url or f"http://{settings.host}:{settings.port}"
    with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
        api = Api(http)
        try:
            if args.command == "login":
                return login(settings, api, args, out)
            http.headers["authorization"] = f"Bearer {_token(settings)}"
            return {"generate": generate, "stop": stop, "status": status}[args.command](api, args, out)
        except errors.InvalidInput as err:
            stderr = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
            for field, message in err.errors or [("", err.message)]:
                stderr.print(f"error: {_option(field) + ': ' if field else ''}{message}")
            return 2
