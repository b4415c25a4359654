"""Cross-site request forgery: a state change that rides on the session cookie must come from this
site's pages (same Origin or Referer, JSON for the API); bearer tokens are unaffected."""

import json

from litestar.testing import AsyncTestClient

from tests.webapi.conftest import PASSWORD, Site
from tests.webapi.test_hostile_input import assert_error

SELF = "http://testserver.local"
EVIL = "https://evil.example"
SETTINGS = "/api/user/ai-settings"
KEY = {"openaiApiKey": "sk-test-0123456789abcdefWXYZ"}


async def _cookie_sign_in(client: AsyncTestClient, email: str = "alice@example.com") -> None:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200  # the client keeps the session cookie it set


async def _openai_configured(site: Site) -> bool:
    view = await site.client.get(SETTINGS, headers=site.headers["alice"])
    return bool(view.json()["providers"]["openai"]["configured"])


async def test_cookie_requests_from_elsewhere_or_not_json_are_403_and_change_nothing(site: Site) -> None:
    await _cookie_sign_in(site.client)
    body = json.dumps(KEY)
    json_type = {"Content-Type": "application/json"}
    forged = [
        {"Content-Type": "text/plain", "Origin": SELF},  # a cross-site form's body type
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": SELF},
        {**json_type, "Origin": EVIL},
        {**json_type, "Origin": "null"},  # a sandboxed frame
        {**json_type, "Referer": f"{EVIL}/page"},
        {**json_type, "Origin": "http://testserver.local:8080"},  # another port is another origin
        json_type,  # neither Origin nor Referer
    ]
    for headers in forged:
        response = await site.client.post(SETTINGS, content=body, headers=headers)
        assert_error(response, 403), headers
    assert not await _openai_configured(site)
    logout = await site.client.post("/api/auth/logout", headers={"Origin": EVIL})
    assert_error(logout, 403)
    assert (await site.client.get("/api/auth/me")).status_code == 200  # still signed in

    for headers in ({**json_type, "Origin": SELF}, {**json_type, "Referer": f"{SELF}/admin/settings/ai"}):
        assert (await site.client.post(SETTINGS, content=body, headers=headers)).status_code == 200
    assert await _openai_configured(site)
    removed = await site.client.post(SETTINGS, json={"openaiApiKey": None}, headers={"Origin": SELF})
    assert removed.status_code == 200
    bodiless = await site.client.post("/api/auth/logout", headers={"Origin": SELF})  # a button's POST
    assert bodiless.status_code == 200


async def test_bearer_requests_are_unaffected(site: Site) -> None:
    headers = {**site.headers["alice"], "Origin": EVIL, "Content-Type": "text/plain"}
    response = await site.client.post(SETTINGS, content=json.dumps(KEY), headers=headers)
    assert response.status_code == 200
    assert await _openai_configured(site)


async def test_signing_in_from_another_site_is_refused(site: Site) -> None:
    credentials = {"email": "alice@example.com", "password": PASSWORD}
    api = await site.client.post("/api/auth/login", json=credentials, headers={"Origin": EVIL})
    assert_error(api, 403)
    assert "set-cookie" not in api.headers
    form = {**credentials, "next": "/admin/queue"}
    for headers in ({"Origin": EVIL}, {"Referer": f"{EVIL}/"}, {}):
        response = await site.client.post("/login", data=form, headers=headers, follow_redirects=False)
        assert_error(response, 403), headers
        assert "set-cookie" not in response.headers
    same = await site.client.post(
        "/login", data=form, headers={"Referer": f"{SELF}/login"}, follow_redirects=False
    )
    assert same.status_code == 303
    site.client.cookies.clear()
    assert (await site.client.post("/api/auth/login", json=credentials)).status_code == 200  # API clients


async def test_the_sign_out_form_needs_this_sites_pages(site: Site) -> None:
    await _cookie_sign_in(site.client, "admin@example.com")
    assert_error(await site.client.post("/logout", headers={"Referer": f"{EVIL}/"}), 403)
    assert (await site.client.get("/api/auth/me")).status_code == 200
    signed_out = await site.client.post("/logout", headers={"Origin": SELF}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert (await site.client.get("/api/auth/me")).status_code == 401
