"""Error pages for people: 404, 403 and 422 in HTML with the navigation of whoever is signed in (a
sign-in link for a visitor), while the API's paths keep their JSON errors (webapi.errors)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, ValidationException
from litestar.response import Template
from litestar.types import AfterExceptionHookHandler, Scope

from blogqueue.errors import NotFound
from webapi.auth import Sessions
from webapi.errors import http_error
from webapi.pages.blog import missing as blog_missing
from webapi.pages.session import AdminsOnly

VIEWER = "page_viewer"  # request state: who is signed in, noted for the error page
JSON_PATHS = ("/api/", "/schema", "/static/", "/healthz", "/readyz", "/metrics")


def is_page(path: str) -> bool:
    return path != "/api" and not path.startswith(JSON_PATHS)


def note_viewer(sessions: Sessions) -> AfterExceptionHookHandler[Exception]:
    """An app hook: exception handlers cannot await, so who is signed in is looked up before they
    run, and only for pages (an API error costs nothing more)."""

    async def note(_: Exception, scope: Scope) -> None:
        if is_page(scope["path"]):
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
            signed_in = await sessions.current(connection)
            connection.state[VIEWER] = signed_in.user if signed_in else None

    return note


def error_page(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Template:
    context = {"user": request.state.get(VIEWER), "title": title, "message": message}
    return Template(template_name="message.html", status_code=status, context=context)


def not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    return error_page(request, 404, "Not found", exc.message)


def admins_only(request: Request[Any, Any, Any], _: AdminsOnly) -> Response[Any]:
    return error_page(request, 403, "Admins only", "This page is for admins; your pages are in the menu.")


def bad_address(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A page's query or path value that cannot be used, such as `?page=abc`."""
    items = exc.extra if isinstance(exc.extra, list) else []
    names = sorted(
        {str(item["key"]).replace("_", " ") for item in items if isinstance(item, dict) and "key" in item}
    )
    what = f" ({', '.join(names)})" if names else ""
    message = (
        f"The address has a value this page cannot use{what}. Check the link, or start again from the menu."
    )
    return error_page(request, 422, "Cannot show this page", message)


def unknown_address(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    """No route for the address: a page for people, JSON on the API's paths."""
    path = request.url.path
    if not is_page(path):
        return http_error(request, exc)
    if path == "/blog" or path.startswith("/blog/"):
        return blog_missing(request, NotFound("there is no such page on the blog"))
    return error_page(request, 404, "Not found", "There is no page at this address.")
