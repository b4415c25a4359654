"""The one TLS context every HTTPS client in this process uses: TMDb's and each provider SDK's."""

from __future__ import annotations

import functools
import ssl

import httpx2


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx2's default (the system CAs, or SSL_CERT_FILE / SSL_CERT_DIR), built once. Left to
    themselves the SDKs load the CA bundle into a context of their own per client (Gemini's two),
    and TMDb's client one more, about 1 MB each; a context is safe to share across connections."""
    return httpx2.create_ssl_context()
