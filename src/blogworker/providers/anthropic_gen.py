"""Anthropic Messages, streamed through the official SDK."""

from __future__ import annotations

import anthropic
import httpx2

from blogqueue.http_retry import retry_after_s
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

PROVIDER = Provider.ANTHROPIC
_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "refusal": FinishReason.REFUSAL,
}


class AnthropicGenerator:
    """One API key's client; the queue owns retries, so the SDK's are off."""

    provider = PROVIDER

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout_s: float = 120.0) -> None:
        self._api_key = api_key
        timeout = httpx2.Timeout(timeout_s, connect=5.0)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,  # None: ANTHROPIC_BASE_URL, then the SDK default
            # The SDK would honour any retry-after, however long, inside the worker.
            max_retries=0,
            timeout=timeout,
            # The SDK's own default client (limits, keep-alive), on the process's one TLS context.
            http_client=anthropic.DefaultAsyncHttpxClient(timeout=timeout, verify=shared_ssl_context()),
        )

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        try:
            return await self._stream(request, on_text)
        except (anthropic.AnthropicError, httpx2.HTTPError) as exc:
            raise _classify(exc, request.model.id, self._api_key) from None

    async def aclose(self) -> None:
        await self._client.close()

    async def _stream(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        model = request.model
        # SDK 2.x dropped the temperature argument; the API still takes it from models that allow it.
        sends_temperature = request.temperature is not None and model.accepts_temperature
        # The raw event stream, not `messages.stream()`: that helper rebuilds the whole message after
        # every token, which we do not need (a third of the SDK's cost per event).
        stream = await self._client.messages.create(
            model=model.id,
            max_tokens=request.max_output_tokens,
            system=request.system,
            messages=[{"role": "user", "content": request.prompt}],
            stream=True,
            extra_body={"temperature": request.temperature} if sends_temperature else None,
        )
        parts: list[str] = []
        tokens_in = tokens_out = 0
        stop_reason, answered_by = "", model.id
        async with stream:
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    parts.append(event.delta.text)
                    on_text(event.delta.text)
                elif event.type == "message_start":
                    answered_by = event.message.model
                    tokens_in, tokens_out = (
                        event.message.usage.input_tokens,
                        event.message.usage.output_tokens,
                    )
                elif event.type == "message_delta":
                    tokens_out = event.usage.output_tokens  # the total so far, not an increment
                    stop_reason = event.delta.stop_reason or stop_reason
        finish = _FINISH.get(stop_reason, FinishReason.OTHER)
        return GenerationResult(text="".join(parts), usage=Usage(tokens_in, tokens_out), finish=finish,
                                model=answered_by)  # fmt: skip


def _classify(exc: Exception, model: str, api_key: str) -> ProviderError:
    """The one place that decides what an Anthropic failure means for the job."""
    if not isinstance(exc, anthropic.APIStatusError):
        timed_out = isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException)
        connection = isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError)
        detail = (
            "no answer in time" if timed_out else "connection failed" if connection else type(exc).__name__
        )
        return provider_error(FailureKind.TRANSIENT, PROVIDER, model, detail)
    # Spend limits (enforced_/contract_spend_limit_reached) come as 429s, but waiting will not help.
    kind = failure_kind(exc.status_code, billing_wall="spend_limit" in (exc.error_code or ""))
    wait = retry_after_s(exc.response.headers)
    return provider_error(kind, PROVIDER, model, _detail(exc, api_key), retry_after_s=wait)


def _detail(exc: anthropic.APIStatusError, api_key: str) -> str:
    said = f": {scrub(exc.api_message, api_key)}" if exc.api_message else ""
    return f"HTTP {exc.status_code}{said}" + (f"; request {exc.request_id}" if exc.request_id else "")
