"""The OpenAPI document: who may call what, and every error answer in the one shape the API sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import free_port, make_settings
from webapi.app import create_app

PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("post", "/api/auth/login")}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


async def _document(tmp_path: Path) -> dict[str, Any]:
    settings = make_settings(f"redis://127.0.0.1:{free_port()}/0", tmp_path)
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in document["paths"].items() for method, op in item.items()}


async def test_public_operations_need_no_session_and_the_rest_do(tmp_path: Path) -> None:
    document = await _document(tmp_path)
    assert document["security"] == [{"SessionCookie": []}, {"BearerToken": []}]
    for key, operation in _operations(document).items():
        if key in PUBLIC:
            assert operation["security"] == [{}], key
        else:
            assert "security" not in operation, key  # the document-wide requirement
            assert {"400", "401", "503"} <= set(operation["responses"]), key


async def test_every_error_answer_is_an_error_body(tmp_path: Path) -> None:
    operations = _operations(await _document(tmp_path))
    for key, operation in operations.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400 and key != ("get", "/readyz"):
                assert response["content"]["application/json"]["schema"] == ERROR_BODY, (key, status)
    assert set(operations["post", "/api/admin/blog/auto-generate"]["responses"]) == {
        "202", "400", "401", "403", "409", "422", "503"
    }  # fmt: skip
    assert operations["get", "/api/admin/blog/auto-generate/events"]["responses"]["200"][
        "content"
    ].keys() == {"text/event-stream"}
