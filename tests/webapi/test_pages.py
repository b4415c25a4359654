"""The pages' session: the API's sign-in, throttle and token checks, answered as pages (a form, a
redirect to /login) instead of JSON."""

from argparse import Namespace

from httpx import Response
from litestar.testing import AsyncTestClient

from blogops.manage import users_command
from tests.webapi.conftest import PASSWORD, Site
from webapi.auth import SESSION_COOKIE

ADMIN = "admin@example.com"
SAME_ORIGIN = {"Origin": "http://testserver.local"}  # the forms are posted from this site's pages


async def _form_sign_in(client: AsyncTestClient, email: str, password: str = PASSWORD) -> Response:
    form = {"email": email, "password": password, "next": "/admin/queue"}
    return await client.post("/login", data=form, headers=SAME_ORIGIN, follow_redirects=False)


async def _get(client: AsyncTestClient, path: str) -> Response:
    return await client.get(path, follow_redirects=False)


async def test_the_form_session_is_the_apis_and_signing_out_revokes_it(site: Site) -> None:
    signed_in = await _form_sign_in(site.client, ADMIN)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/queue"
    assert (await _get(site.client, "/admin/queue")).status_code == 200
    assert (await _get(site.client, "/api/auth/me")).json()["email"] == ADMIN
    cookie = site.client.cookies[SESSION_COOKIE]

    signed_out = await site.client.post("/logout", headers=SAME_ORIGIN, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    site.client.cookies.set(SESSION_COOKIE, cookie)  # a copy kept from before signing out
    page = await _get(site.client, "/admin/queue")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/admin/queue"
    assert (await _get(site.client, "/api/auth/me")).status_code == 401


async def test_the_form_shares_the_apis_throttle_and_messages(site: Site) -> None:
    for _ in range(site.settings.login_max_failures):
        wrong = await _form_sign_in(site.client, "bob@example.com", "wrong-password")
        assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    blocked = await _form_sign_in(site.client, "bob@example.com")
    assert blocked.status_code == 429 and "too many failed sign-ins" in blocked.text
    api = await site.client.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    assert api.status_code == 429


async def test_a_disabled_admin_is_sent_to_sign_in_again(site: Site) -> None:
    await _form_sign_in(site.client, ADMIN)
    assert (await _get(site.client, "/admin/settings/ai")).status_code == 200
    await users_command(site.settings, Namespace(action="disable", email=ADMIN, password=None))
    page = await _get(site.client, "/admin/settings/ai?tab=keys")
    assert (
        page.status_code == 303 and page.headers["location"] == "/login?next=/admin/settings/ai%3Ftab%3Dkeys"
    )


async def test_the_favicon_answers_without_a_session(site: Site) -> None:
    response = await site.client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<svg")
    assert "max-age=86400" in response.headers["cache-control"]


async def test_signed_in_pages_are_never_stored_and_the_form_sends_a_signed_in_user_on(site: Site) -> None:
    form = await _get(site.client, "/login?next=/admin/queue")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    await _form_sign_in(site.client, ADMIN)
    for path in ["/admin/queue", "/admin/blog/posts", "/admin/settings/ai", "/admin/blog/posts/no-such-post"]:
        page = await _get(site.client, path)
        assert page.headers["cache-control"] == "no-store", path
    assert (await _get(site.client, "/blog")).headers["cache-control"].startswith("public")

    again = await _get(site.client, "/login?next=/admin/queue")
    assert again.status_code == 303 and again.headers["location"] == "/admin/queue"
    assert again.headers["cache-control"] == "no-store"  # Back after sign-out must not replay it
    elsewhere = await _get(site.client, "/login?next=//evil.example/")
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/admin/blog/auto-generate"
