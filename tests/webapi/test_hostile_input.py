"""Hostile requests: each is answered with a 4xx and a message a person understands, and changes nothing."""

import uuid
from typing import Any
from urllib.parse import quote

import redis.asyncio as aioredis
from httpx import Response
from litestar.testing import AsyncTestClient

from blogqueue.queues import QUEUE_NAME, Keys
from blogqueue.settings import Settings
from blogqueue.users import MAX_PASSWORD_LENGTH
from tests.webapi.conftest import PASSWORD, Site, create_accounts
from webapi.app import create_app
from webapi.auth import build_auth

ADMIN_ROUTES = ["/api/admin/queue/metrics", "/api/admin/queue/clean", "/api/admin/blog/auto-generate/status"]


def assert_error(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The API's error shape with this status (and a detail naming `field`)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"], body
    assert "internal" not in body["error"].lower(), body
    if field is not None:
        assert field in [detail.get("key", detail.get("field")) for detail in body.get("details", [])], body
    return body


async def test_a_preflight_on_admin_routes_is_answered_without_sign_in(site: Site) -> None:
    preflight = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    for path in ADMIN_ROUTES:
        for headers in ({}, site.headers["alice"], site.headers["admin"]):
            response = await site.client.options(path, headers={**preflight, **headers})
            assert response.status_code == 204, (path, response.text)
            assert "OPTIONS" in response.headers["allow"]
            assert "access-control-allow-origin" not in response.headers  # no CORS configured


async def test_configured_origins_get_cors_and_others_do_not(sqlite_settings: Settings) -> None:
    await create_accounts(sqlite_settings)
    settings: Any = Settings(
        _env_file=None, **{**sqlite_settings.model_dump(), "cors_origins": "https://front.example"}
    )
    async with AsyncTestClient(create_app(settings)) as client:
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        allowed = await client.options(
            "/api/admin/queue/clean", headers={**ask, "Origin": "https://front.example"}
        )
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == "https://front.example"
        refused = await client.options(
            "/api/admin/queue/clean", headers={**ask, "Origin": "https://evil.example"}
        )
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        plain = await client.options("/api/admin/queue/clean")  # no Origin: not a preflight
        assert plain.status_code == 204 and "POST" in plain.headers["allow"]
        credentials = {"email": "alice@example.com", "password": PASSWORD}
        assert (await client.post("/api/auth/login", json=credentials)).status_code == 200  # the cookie
        update = {"preferredAiModel": "offline"}
        trusted = await client.post(
            "/api/user/ai-settings", json=update, headers={"Origin": "https://front.example"}
        )
        assert (
            trusted.status_code == 200
            and trusted.headers["access-control-allow-origin"] == "https://front.example"
        )
        foreign = await client.post(
            "/api/user/ai-settings", json=update, headers={"Origin": "https://evil.example"}
        )
        assert_error(foreign, 403)


MALFORMED = {
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "invalid UTF-8": b'{"email": "\xff\xfe", "password": "\xc3\x28"}',
    "garbage": b"\x00garbage{{",
}


async def test_malformed_json_bodies_are_400(site: Site) -> None:
    targets = [
        ("/api/auth/login", {}),
        ("/api/user/ai-settings", site.headers["alice"]),
        ("/api/admin/blog/auto-generate", site.headers["admin"]),
    ]
    before = (await site.client.get("/api/user/ai-settings", headers=site.headers["alice"])).json()
    for path, headers in targets:
        for name, body in MALFORMED.items():
            response = await site.client.post(
                path, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert_error(response, 400), (path, name)
    assert (await site.client.get("/api/user/ai-settings", headers=site.headers["alice"])).json() == before
    runs = await site.client.get("/api/admin/blog/auto-generate/status", headers=site.headers["admin"])
    assert runs.json()["runs"] == []


async def test_a_sign_in_form_with_invalid_utf8_is_a_client_error(site: Site) -> None:
    response = await site.client.post(
        "/login",
        content=b"email=%FF%FE&password=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": str(site.client.base_url)},
        follow_redirects=False,
    )
    assert 400 <= response.status_code < 500


async def test_pages_beyond_any_integer_column_are_422_naming_page(site: Site) -> None:
    huge = "page=9223372036854775807"
    for path in ["/api/blog/posts", "/api/jobs?state=waiting", "/admin/blog/posts", "/admin/queue"]:
        url = path + ("&" if "?" in path else "?") + huge
        response = await site.client.get(url, headers=site.headers["admin"], follow_redirects=False)
        if path.startswith("/admin/"):  # a page for a person, naming the value
            assert response.status_code == 422 and "cannot use (page)" in response.text, url
        else:
            assert_error(response, 422, "page"), url


async def test_ids_beyond_the_id_columns_are_422_naming_the_field(site: Site) -> None:
    admin = site.headers["admin"]
    huge = 10**20
    for query in (f"runId={huge}", f"userId={huge}", "runId=0", f"runId={2**31}"):
        field = query.split("=")[0]
        status = await site.client.get(f"/api/admin/blog/auto-generate/status?{query}", headers=admin)
        assert_error(status, 422, field)
        posts = await site.client.get(f"/api/blog/posts?{query}", headers=admin)
        assert_error(posts, 422, field)
    jobs = await site.client.get(f"/api/jobs?state=waiting&userId={huge}", headers=admin)
    assert_error(jobs, 422, "userId")
    for body in ({"runId": huge}, {"userId": huge}, {"runId": 2**31}):
        stop = await site.client.post("/api/admin/blog/auto-generate/stop", json=body, headers=admin)
        assert_error(stop, 422, next(iter(body)))
    clean = await site.client.post(
        "/api/admin/queue/clean", json={"state": "completed", "graceMs": huge}, headers=admin
    )
    assert_error(clean, 422, "graceMs")


async def test_cron_patterns_that_never_fire_or_fire_too_often_are_422(site: Site) -> None:
    admin = site.headers["admin"]
    run = {"source": "popular", "mediaType": "movie", "count": 1, "model": "offline", "mode": "continuous"}
    for cron in ("0 0 31 2 *", "* * * * *", "*/2 * * * *", "*/30 * * * * *"):
        response = await site.client.post(
            "/api/admin/blog/auto-generate", json={**run, "cron": cron}, headers=admin
        )
        assert_error(response, 422, "cron"), cron
    status = await site.client.get("/api/admin/blog/auto-generate/status", headers=admin)
    assert status.json()["runs"] == []


BULLMQ_KEYS = ["events", "meta", "id", "wait", "paused", "active", "delayed", "prioritized", "completed", "failed",
               "repeat", "de", "pc", "marker", "limiter", "stalled-check", "metrics:completed", "repeat:run-1"]  # fmt: skip


async def test_bullmqs_own_keys_are_no_jobs(site: Site) -> None:
    redis = aioredis.Redis.from_url(site.settings.redis_url, decode_responses=True)
    base = f"{site.settings.queue_prefix}:{QUEUE_NAME}"
    metrics = f"{base}:metrics:completed"
    await redis.hset(metrics, mapping={"count": "7", "prevTS": "1", "prevCount": "0"})
    await redis.xadd(f"{base}:events", {"event": "added"})
    await redis.set(f"{base}:id", "3")
    await redis.hset(f"{base}:meta", mapping={"opts.maxLenEvents": "10000"})
    await redis.hset(f"{base}:not-a-job", mapping={"some": "hash"})
    admin = site.headers["admin"]
    try:
        for name in [*BULLMQ_KEYS, "not-a-job"]:
            path = f"/api/jobs/{quote(name, safe='')}"
            assert_error(await site.client.get(path, headers=admin), 404), name
            for action in ("retry", "promote"):
                assert_error(await site.client.post(f"{path}/{action}", headers=admin), 404), name
            assert_error(await site.client.delete(path, headers=admin), 404), name
        assert await redis.hgetall(metrics) == {"count": "7", "prevTS": "1", "prevCount": "0"}
        assert await redis.exists(f"{base}:events", f"{base}:id", f"{base}:meta", f"{base}:not-a-job") == 4
        login = await site.client.post(
            "/api/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200  # the admin page reads jobs the same way, with the session cookie
        page = await site.client.get("/admin/queue/jobs/events", follow_redirects=False)
        assert page.status_code == 404 and "does not exist" in page.text
    finally:
        site.client.cookies.clear()
        await redis.aclose()


async def test_a_garbage_last_event_id_is_400_before_streaming(site: Site) -> None:
    for garbage in ("garbage", "$", "1-2-3", "-1", "1700000000000-", str(2**64), "1-" + "9" * 25):
        response = await site.client.get(
            "/api/admin/blog/auto-generate/events",
            headers={**site.headers["admin"], "Last-Event-ID": garbage},
        )
        assert "Last-Event-ID" in assert_error(response, 400)["error"], garbage


async def test_a_token_with_the_real_key_but_no_user_id_as_subject_is_401(site: Site) -> None:
    auth = build_auth(site.settings)
    for subject in ("admin", "1.0", "-1", "²", "0", str(2**63), " 1"):
        forged = auth.create_token(identifier=subject, token_unique_jwt_id=uuid.uuid4().hex)
        response = await site.client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert_error(response, 401), subject


async def _throttle_keys(settings: Settings) -> list[str]:
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        return list(await redis.keys(f"{Keys(settings.queue_prefix).app}:login-failures:*"))
    finally:
        await redis.aclose()


async def test_credentials_longer_than_any_account_are_refused_before_the_throttle(site: Site) -> None:
    huge_email = "a" * 1_000_000 + "@example.com"
    for body, field in (
        ({"email": huge_email, "password": "wrong-password"}, "email"),
        ({"email": "alice@example.com", "password": "p" * (MAX_PASSWORD_LENGTH + 1)}, "password"),
    ):
        assert_error(await site.client.post("/api/auth/login", json=body), 422, field)
    origin = {"Origin": str(site.client.base_url).rstrip("/")}
    for email, password in ((huge_email, "wrong-password"), ("alice@example.com", "p" * 5_000)):
        form = await site.client.post(
            "/login", data={"email": email, "password": password}, headers=origin, follow_redirects=False
        )
        assert form.status_code == 401 and "Wrong email or password" in form.text
        assert len(form.text) < 100_000  # the form does not echo a megabyte back
    assert await _throttle_keys(site.settings) == []
