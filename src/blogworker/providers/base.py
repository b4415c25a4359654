"""The interface every generator implements, and what a failed call means for the job."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

import msgspec

from blogqueue.errors import BlogQueueError
from blogqueue.providers import PROVIDERS, Provider
from blogqueue.registry import AiModel
from blogqueue.titles import TitleDetails

# Called with each streamed text delta: one per token with real providers, so it must stay cheap
# and synchronous (a list's append); progress is reported beside the stream, not from it.
OnText = Callable[[str], None]


class FinishReason(StrEnum):
    STOP = "stop"  # a complete answer
    LENGTH = "length"  # cut off at the output token limit
    SAFETY = "safety"  # blocked by the provider's safety system
    REFUSAL = "refusal"  # the model declined
    OTHER = "other"


class Usage(msgspec.Struct, frozen=True):
    input_tokens: int = 0
    output_tokens: int = 0  # thinking/reasoning tokens included: they are billed as output


class GenerationRequest(msgspec.Struct, frozen=True, kw_only=True):
    model: AiModel
    system: str
    prompt: str
    max_output_tokens: int  # already clamped to the model's limit
    temperature: float | None = None  # None: do not send it (some models reject any value)
    facts: TitleDetails | None = None  # what the prompt was built from; the offline writer needs only this


class GenerationResult(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    usage: Usage
    finish: FinishReason
    model: str  # as reported by the provider


class FailureKind(StrEnum):
    AUTH = "auth"  # bad or forbidden key: fail now
    MODEL = "model"  # unknown or retired model: fail now
    QUOTA = "quota"  # billing wall (insufficient quota, spend limit): fail now
    RATE_LIMIT = "rate_limit"  # wait `retry_after_s`, without spending an attempt
    TRANSIENT = "transient"  # 5xx, overloaded, timeout, connection: retry with backoff
    BAD_REQUEST = "bad_request"  # the provider rejected our request: fail now


_FAIL_NOW = {FailureKind.AUTH, FailureKind.MODEL, FailureKind.QUOTA, FailureKind.BAD_REQUEST}


class ProviderError(BlogQueueError):
    """A provider call failed; `kind` decides whether the job may try again, `message` is for a person."""

    def __init__(
        self, kind: FailureKind, message: str, *, provider: str, retry_after_s: float | None = None,
        usage: Usage | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.kind = kind
        self.retryable = kind not in _FAIL_NOW
        self.provider = provider
        self.retry_after_s = retry_after_s
        self.usage = usage  # tokens billed before the failure, if the provider said


class TextGenerator(Protocol):
    provider: Provider

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        """Stream a completion, calling `on_text` with each delta; raise ProviderError on failure."""
        ...

    async def aclose(self) -> None: ...


# Helpers for the adapters' error classification: each adapter reads its SDK's signals, these say
# what they mean, in the same words for every provider.

_MESSAGES = {
    FailureKind.AUTH: "{label} rejected the API key ({detail}); check the key in AI settings",
    FailureKind.MODEL: "{label} has no model {model!r} that this key can use ({detail}); pick another model",
    FailureKind.QUOTA: "the {label} account is out of quota or over its spend limit ({detail}); "
    "add credit or raise the limit with {label}",
    FailureKind.RATE_LIMIT: "{label} rate limit reached ({detail}); the job will wait and retry",
    FailureKind.TRANSIENT: "{label} failed or could not be reached ({detail})",
    FailureKind.BAD_REQUEST: "{label} rejected the request ({detail})",
}


def failure_kind(status: int, *, billing_wall: bool = False, bad_key: bool = False) -> FailureKind:
    """What an HTTP error status means, once the provider-specific signals have been read."""
    if bad_key or status in (401, 403):
        return FailureKind.AUTH
    if billing_wall or status == 402:
        return FailureKind.QUOTA
    if status == 404:
        return FailureKind.MODEL
    if status == 429:
        return FailureKind.RATE_LIMIT
    if status >= 500 or status in (408, 409):
        return FailureKind.TRANSIENT
    return FailureKind.BAD_REQUEST


def provider_error(
    kind: FailureKind, provider: Provider, model: str, detail: str, *, retry_after_s: float | None = None
) -> ProviderError:
    """A ProviderError telling a person what happened and what to do; `detail` must be key-free."""
    message = _MESSAGES[kind].format(label=PROVIDERS[provider].label, model=model, detail=detail)
    wait = retry_after_s if kind is FailureKind.RATE_LIMIT else None
    return ProviderError(kind, message, provider=provider, retry_after_s=wait)


def scrub(text: str, api_key: str, limit: int = 300) -> str:
    """A provider's own message, shortened and without the API key (some echo it back)."""
    return (text.replace(api_key, "[redacted]") if api_key else text)[:limit]
