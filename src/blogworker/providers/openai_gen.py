"""OpenAI Chat Completions, streamed through the official SDK."""

from __future__ import annotations

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

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

PROVIDER = Provider.OPENAI
_FINISH = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH, "content_filter": FinishReason.SAFETY}


class OpenAIGenerator:
    """One API key's client; the queue owns retries, so the SDK's are off."""

    provider = PROVIDER

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout_s: float = 120.0) -> None:
        self._api_key = api_key
        timeout = httpx2.Timeout(timeout_s, connect=5.0)
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,  # None: OPENAI_BASE_URL, then the SDK default
            max_retries=0,
            timeout=timeout,
            # The SDK's own default client (limits, redirects), on the process's one TLS context.
            http_client=openai.DefaultAsyncHttpxClient(timeout=timeout, verify=shared_ssl_context()),
        )

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        try:
            return await self._stream(request, on_text)
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise _classify(exc, request.model.id, self._api_key) from None

    async def aclose(self) -> None:
        await self._client.close()

    async def _stream(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        model = request.model
        limit = request.max_output_tokens
        temperature = request.temperature if model.accepts_temperature else None
        stream = await self._client.chat.completions.create(
            model=model.id,
            messages=[
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.prompt},
            ],
            stream=True,
            stream_options={"include_usage": True},
            # Older models know only max_tokens; current ones reject it.
            max_tokens=limit if model.max_tokens_param == "max_tokens" else openai.omit,
            max_completion_tokens=limit if model.max_tokens_param != "max_tokens" else openai.omit,
            temperature=openai.omit if temperature is None else temperature,
        )
        state = _StreamState(model.id, on_text)
        async with stream:
            async for chunk in stream:
                state.add(chunk)
        return state.result()


class _StreamState:
    """What the chunks add up to; a refusal counts as text so a person can read it. `add` runs once
    per token, so it allocates nothing of its own."""

    def __init__(self, model: str, on_text: OnText) -> None:
        self.parts: list[str] = []
        self.on_text = on_text
        self.refused = False
        self.finish: str | None = None
        self.usage = Usage()
        self.model = model

    def add(self, chunk: ChatCompletionChunk) -> None:
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        if not chunk.choices:
            return
        choice = chunk.choices[0]
        self.finish = choice.finish_reason or self.finish
        if choice.delta.refusal:
            self.refused = True
            self._text(choice.delta.refusal)
        if choice.delta.content:
            self._text(choice.delta.content)

    def _text(self, delta: str) -> None:
        self.parts.append(delta)
        self.on_text(delta)

    def result(self) -> GenerationResult:
        finish = FinishReason.REFUSAL if self.refused else _FINISH.get(self.finish or "", FinishReason.OTHER)
        return GenerationResult(text="".join(self.parts), usage=self.usage, finish=finish, model=self.model)


def _classify(exc: Exception, model: str, api_key: str) -> ProviderError:
    """The one place that decides what an OpenAI failure means for the job."""
    if not isinstance(exc, openai.APIStatusError):
        timed_out = isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException)
        connection = isinstance(exc, openai.APIConnectionError | httpx2.TransportError)
        detail = (
            "no answer in time" if timed_out else "connection failed" if connection else type(exc).__name__
        )
        return provider_error(FailureKind.TRANSIENT, PROVIDER, model, detail)
    # insufficient_quota is a billing wall, not a rate limit: waiting will not help.
    kind = failure_kind(exc.status_code, billing_wall=exc.code == "insufficient_quota")
    wait = retry_after_s(exc.response.headers)
    return provider_error(kind, PROVIDER, model, _detail(exc, api_key), retry_after_s=wait)


def _detail(exc: openai.APIStatusError, api_key: str) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    said = f": {scrub(str(body['message']), api_key)}" if body.get("message") else ""
    return f"HTTP {exc.status_code}{said}" + (f"; request {exc.request_id}" if exc.request_id else "")
