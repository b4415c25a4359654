"""Public pages rendered once per PAGE_TTL_S in each process and served from memory meanwhile, with an
ETag (a revalidation costs no rendering) and `Cache-Control: public` so browsers and proxies share the
load. A kept page is served only while the blog's version (a Redis counter every publish, unpublish,
edit or delete moves on) is the one it was rendered at, so no process shows an unpublished post from
memory; without Redis, pages are rendered afresh and not kept."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from cachetools import TTLCache
from litestar import Request, Response

PAGE_TTL_S = 30.0
PAGES_KEPT = 512  # pages, tag pages and hosts are unbounded in number; memory is not
CACHE_CONTROL = f"public, max-age={int(PAGE_TTL_S)}"


class RenderedPage(NamedTuple):
    body: bytes
    media_type: str
    etag: str


Render = Callable[[], Awaitable[tuple[str, str]]]  # -> (text, media type)


class PageCache:
    def __init__(self, ttl_s: float = PAGE_TTL_S, maxsize: int = PAGES_KEPT) -> None:
        self._pages: TTLCache[str, RenderedPage] = TTLCache(maxsize=maxsize, ttl=ttl_s)

    async def respond(
        self, request: Request[Any, Any, Any], render: Render, version: int | None, page: int = 1
    ) -> Response[bytes]:
        """The page for this host (pages carry absolute links), path and page number at this blog
        version, rendered if not kept (never kept when the version is unknown); other query
        parameters cannot make a request miss. 304 when the client holds this version already.
        Errors raised by `render` are not kept."""
        key = f"{version}:{request.base_url}{request.url.path}?page={page}"
        kept = self._pages.get(key)
        if kept is None:
            text, media_type = await render()
            body = text.encode()
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            kept = RenderedPage(body, media_type, etag)
            if version is not None:
                self._pages[key] = kept
        headers = {"ETag": kept.etag, "Cache-Control": CACHE_CONTROL}
        if kept.etag in request.headers.get("if-none-match", ""):
            return Response(b"", status_code=304, headers=headers)
        return Response(kept.body, media_type=kept.media_type, headers=headers)
