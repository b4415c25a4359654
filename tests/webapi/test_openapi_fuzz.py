"""Schemathesis against the real app (in-process ASGI, real Redis and SQLite), once as an admin and once
as a plain user: no request may end in a 5xx, and every status code, content type and body must be one
the OpenAPI document declares for that operation."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from blogqueue import db, users
from blogqueue.settings import Settings
from tests.webapi.conftest import ACCOUNTS, create_accounts
from webapi.app import create_app
from webapi.auth import build_auth

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
REQUEST_TIMEOUT_S = 10  # a request that hangs fails its case instead of the whole run
MAX_EXAMPLES = 25  # per operation and generation mode (valid and invalid input)
# The event stream never ends by design (it follows run events until the client leaves): its
# requests are cut after STREAM_S, keeping what was sent, so it gets fewer of them.
EVENTS = "/api/admin/blog/auto-generate/events"
STREAM_S = 0.5
STREAM_EXAMPLES = 5


@pytest.fixture(params=["admin", "alice"])
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def accounts(sqlite_settings: Settings, role: str) -> tuple[Settings, int]:
    """The site's accounts on a migrated SQLite file; the id of the one this run signs in as."""
    await create_accounts(sqlite_settings)
    engine = db.create_engine(sqlite_settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.get_by_email(session, ACCOUNTS[role][0])
    finally:
        await engine.dispose()
    assert user.id is not None
    return sqlite_settings, user.id


@pytest.fixture
def api_schema(accounts: tuple[Settings, int]) -> Iterator[BaseSchema]:
    app = create_app(accounts[0])
    try:
        yield schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    finally:
        asgi.shutdown_lifespans()  # the app's lifespan runs on schemathesis' own loop until here


@pytest.fixture
def bearer(accounts: tuple[Settings, int]) -> Callable[[], dict[str, str]]:
    """A fresh token per request: a generated sign-out revokes only its own, and the sign-in throttle
    (which the fuzzing of POST /api/auth/login trips) never stands between the run and its token."""
    settings, user_id = accounts
    auth = build_auth(settings)

    def headers() -> dict[str, str]:
        token = auth.create_token(identifier=str(user_id), token_unique_jwt_id=uuid.uuid4().hex)
        return {"Authorization": f"Bearer {token}"}

    return headers


def _fuzz(operation: APIOperation, mode: GenerationMode, headers: Callable[[], dict[str, str]]) -> str | None:
    """Up to MAX_EXAMPLES generated requests to one operation; the first failure's report, or None."""

    stream = operation.path == EVENTS

    @settings(
        max_examples=STREAM_EXAMPLES if stream else MAX_EXAMPLES,
        deadline=None,  # REQUEST_TIMEOUT_S bounds each request; a shared 2-core CI machine varies too much
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the report names the failing request
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        case.call_and_validate(
            headers=headers(), checks=CHECKS, timeout=STREAM_S if stream else REQUEST_TIMEOUT_S
        )

    try:
        run()
    except Unsatisfiable:  # nothing to get wrong: no parameters and no body
        assert mode is GenerationMode.NEGATIVE, operation.label
    except (FailureGroup, Exception) as exc:  # failed checks, or a request that failed outright
        return f"{operation.label} ({mode.value}): {exc}"
    return None


@pytest.mark.timeout(300)
def test_every_operation_answers_as_documented(
    api_schema: BaseSchema, bearer: Callable[[], dict[str, str]]
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20, "the document lost operations"
    failures = [
        failure
        for operation in operations
        for mode in GenerationMode
        if (failure := _fuzz(operation, mode, bearer)) is not None
    ]
    assert not failures, "\n\n".join(failures)
