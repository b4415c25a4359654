"""Google Gemini, streamed through the google-genai SDK."""

from __future__ import annotations

import functools
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types

from blogqueue.providers import Provider
from blogqueue.tls import shared_ssl_context
from blogworker.providers.base import (
    FailureKind,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    OnText,
    ProviderError,
    Usage,
    failure_kind,
    provider_error,
    scrub,
)

PROVIDER = Provider.GEMINI
_FINISH = {
    types.FinishReason.STOP: FinishReason.STOP,
    types.FinishReason.MAX_TOKENS: FinishReason.LENGTH,
    types.FinishReason.SAFETY: FinishReason.SAFETY,
    types.FinishReason.PROHIBITED_CONTENT: FinishReason.SAFETY,
    types.FinishReason.BLOCKLIST: FinishReason.SAFETY,
    types.FinishReason.SPII: FinishReason.SAFETY,
}


class GeminiGenerator:
    """One API key's client; google-genai retries nothing unless given retry_options, so none are."""

    provider = PROVIDER

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout_s: float = 120.0) -> None:
        self._api_key = api_key
        options = types.HttpOptions(
            base_url=base_url,  # None: GOOGLE_GEMINI_BASE_URL, then the SDK default
            api_version="v1",
            timeout=int(timeout_s * 1000),  # milliseconds, for connect and each read alike
            # httpx2 reads `verify`, its websocket client `ssl`; the SDK drops what each does not take.
            client_args={"verify": shared_ssl_context()},
            async_client_args={"verify": shared_ssl_context(), "ssl": shared_ssl_context()},
        )
        self._client = genai.Client(api_key=api_key, http_options=options)

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        try:
            return await self._stream(request, on_text)
        # Timeouts and connection errors escape the SDK as bare httpx2 errors.
        except (errors.APIError, errors.UnknownApiResponseError, httpx2.HTTPError) as exc:
            raise _classify(exc, request.model.id, self._api_key) from None

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()

    async def _stream(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        model = request.model
        temperature = request.temperature if model.accepts_temperature else None
        config = _config(request.system, request.max_output_tokens, temperature)
        parts: list[str] = []
        meta, finish, model_version = None, FinishReason.OTHER, model.id
        stream = await self._client.aio.models.generate_content_stream(
            model=model.id, contents=request.prompt, config=config
        )
        async for chunk in stream:  # once per token: read the chunk, build nothing of our own
            content = chunk.candidates[0].content if chunk.candidates else None
            for part in (content.parts or ()) if content else ():
                # Not `chunk.text`: it logs a warning on every chunk that holds other parts.
                if part.text and not part.thought:
                    parts.append(part.text)
                    on_text(part.text)
            meta = chunk.usage_metadata or meta
            finish = _finish(chunk) or finish
            model_version = chunk.model_version or model_version
        usage = _usage(meta) or Usage()
        return GenerationResult(text="".join(parts), usage=usage, finish=finish, model=model_version)


@functools.lru_cache(maxsize=64)
def _config(system: str, max_output_tokens: int, temperature: float | None) -> types.GenerateContentConfig:
    """Built once per set of values: the SDK validates every field of it, and the values repeat."""
    return types.GenerateContentConfig(
        system_instruction=system, max_output_tokens=max_output_tokens, temperature=temperature
    )


def _usage(meta: types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    if meta is None:
        return None
    output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)  # thinking bills as output
    return Usage(meta.prompt_token_count or 0, output)


def _finish(chunk: types.GenerateContentResponse) -> FinishReason | None:
    if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason is not None:
        return FinishReason.SAFETY
    reason = chunk.candidates[0].finish_reason if chunk.candidates else None
    return None if reason is None else _FINISH.get(reason, FinishReason.OTHER)


def _classify(exc: Exception, model: str, api_key: str) -> ProviderError:
    """The one place that decides what a Gemini failure means for the job."""
    if not isinstance(exc, errors.APIError):
        timed_out = isinstance(exc, httpx2.TimeoutException)
        connection = isinstance(exc, httpx2.TransportError)
        detail = (
            "no answer in time" if timed_out else "connection failed" if connection else type(exc).__name__
        )
        return provider_error(FailureKind.TRANSIENT, PROVIDER, model, detail)
    error = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
    raw = error.get("details", []) if isinstance(error, dict) else []
    details = [d for d in raw if isinstance(d, dict)] if isinstance(raw, list) else []
    kind = failure_kind(
        exc.code,
        billing_wall=exc.code == 429 and _daily_quota_spent(details),
        # Gemini answers a bad key with 400 INVALID_ARGUMENT, not 401.
        bad_key=any(d.get("reason") == "API_KEY_INVALID" for d in details),
    )
    said = f": {scrub(exc.message, api_key)}" if exc.message else ""
    return provider_error(
        kind, PROVIDER, model, f"HTTP {exc.code}{said}", retry_after_s=_retry_delay_s(details)
    )


def _daily_quota_spent(details: list[dict[str, Any]]) -> bool:
    """A per-day QuotaFailure violation: retrying within seconds or minutes cannot succeed."""
    for detail in details:
        violations = detail.get("violations")
        for violation in violations if isinstance(violations, list) else []:
            if isinstance(violation, dict) and "PerDay" in str(violation.get("quotaId", "")):
                return True
    return False


def _retry_delay_s(details: list[dict[str, Any]]) -> float | None:
    """`retryDelay` ("30s") from the google.rpc.RetryInfo entry; the SDK itself never reads it."""
    delays = [d.get("retryDelay") for d in details if str(d.get("@type", "")).endswith("RetryInfo")]
    delay = next((d for d in delays if isinstance(d, str) and d.endswith("s")), None)
    try:
        return float(delay.removesuffix("s")) if delay else None
    except ValueError:
        return None
