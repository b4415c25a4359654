"""Who may call what: every route of the app, as anonymous, a user and an admin."""

import re

from litestar.routes import HTTPRoute

from tests.webapi.conftest import Site
from webapi.app import create_app

PUBLIC = re.compile(r"^/(healthz|readyz|schema.*|api/auth/login)$")


def _routes(site: Site) -> list[tuple[str, str]]:
    app = create_app(site.settings)
    found = []
    for route in app.routes:
        api = route.path.startswith(("/api/", "/healthz", "/readyz", "/schema"))  # pages: tests/ui
        if isinstance(route, HTTPRoute) and "{" not in route.path and api:
            found.extend((method, route.path) for method in sorted(route.methods - {"HEAD", "OPTIONS"}))
    return found


async def test_the_matrix_covers_the_api() -> None:
    # Guard against the matrix silently shrinking: these must be among the routes checked.
    assert PUBLIC.match("/healthz")
    assert not PUBLIC.match("/api/admin/queue/metrics")


async def test_every_route_enforces_sign_in_and_roles(site: Site) -> None:
    routes = _routes(site)
    paths = {path for _, path in routes}
    assert {
        "/api/user/ai-settings",
        "/api/ai/models",
        "/api/admin/queue/metrics",
        "/api/auth/logout",
    } <= paths
    for method, path in routes:
        if path == "/api/auth/logout":
            continue  # signing out would revoke the shared tokens; covered in test_auth
        if path.endswith("/events"):
            continue  # an endless event stream: its access is checked over real HTTP in test_events
        anonymous = await site.client.request(method, path, json={})
        if PUBLIC.match(path):
            assert anonymous.status_code not in {401, 403}, (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        assert anonymous.json()["error"], (method, path)
        user = await site.client.request(method, path, json={}, headers=site.headers["alice"])
        admin = await site.client.request(method, path, json={}, headers=site.headers["admin"])
        assert admin.status_code not in {401, 403}, (method, path, admin.status_code)
        if path.startswith("/api/admin/"):
            assert user.status_code == 403, (method, path, user.status_code)
            assert user.json()["error"] == "this needs an admin account"
        else:
            assert user.status_code not in {401, 403}, (method, path, user.status_code)
    assert (await site.client.post("/api/auth/logout")).status_code == 401
