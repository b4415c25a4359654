"""One pool of generators per worker process, so each API key's SDK client (and its connections) is reused."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import importlib
from collections import OrderedDict
from collections.abc import Callable, Mapping

from blogqueue.providers import PROVIDERS, Provider
from blogworker.providers.base import (
    FailureKind,
    GenerationRequest,
    GenerationResult,
    OnText,
    ProviderError,
    TextGenerator,
)

Factory = Callable[..., TextGenerator]
# Which class speaks for each provider. Imported on first use: each SDK costs 15-40 MB of memory,
# and most workers use one provider.
ADAPTERS: Mapping[Provider, str] = {
    Provider.GEMINI: "blogworker.providers.gemini_gen:GeminiGenerator",
    Provider.OPENAI: "blogworker.providers.openai_gen:OpenAIGenerator",
    Provider.ANTHROPIC: "blogworker.providers.anthropic_gen:AnthropicGenerator",
    Provider.OFFLINE: "blogworker.providers.offline:OfflineGenerator",
}


def adapter(provider: Provider) -> Factory:
    """The generator class for a provider, its module imported now."""
    module, name = ADAPTERS[provider].split(":")
    factory: Factory = getattr(importlib.import_module(module), name)
    gc.freeze()  # the SDK's modules and classes live as long as the process, as start-up's do (main.py)
    return factory


class GeneratorPool:
    """Generators by (provider, sha256 of key), least recently used evicted and closed once idle."""

    def __init__(
        self,
        *,
        base_urls: Mapping[Provider, str | None] | None = None,
        timeout_s: float = 120.0,
        max_size: int = 32,
    ) -> None:
        self._base_urls = dict(base_urls or {})
        self._timeout_s = timeout_s
        self._max_size = max(max_size, 1)
        # One each for providers without keys: there is nothing to tell their clients apart by.
        self._keyless = {p: adapter(p)() for p in Provider if not PROVIDERS[p].needs_key}
        self._cache: OrderedDict[tuple[Provider, str], _Pooled] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, provider: str, api_key: str | None) -> TextGenerator:
        """The generator for this provider and key; raises ProviderError(AUTH) for a missing key."""
        if provider not in PROVIDERS:
            raise ProviderError(
                FailureKind.BAD_REQUEST, f"unknown AI provider {provider!r}", provider=provider
            )
        known = Provider(provider)
        if known in self._keyless:
            return self._keyless[known]
        if not api_key:
            message = f"no {provider} API key is set: add one in AI settings, or pick the offline model"
            raise ProviderError(FailureKind.AUTH, message, provider=provider)
        slot = (known, hashlib.sha256(api_key.encode()).hexdigest())
        pooled = self._cache.get(slot)
        if pooled is None:
            inner = adapter(known)(api_key, base_url=self._base_urls.get(known), timeout_s=self._timeout_s)
            pooled = self._cache[slot] = _Pooled(inner)
        self._cache.move_to_end(slot)
        self._evict()
        return pooled

    def __len__(self) -> int:
        return len(self._cache)

    async def aclose(self) -> None:
        """Close every client; call once, at worker exit."""
        pooled, self._cache = list(self._cache.values()), OrderedDict()
        await asyncio.gather(*(generator.aclose() for generator in pooled), *self._closing)

    def _evict(self) -> None:
        while len(self._cache) > self._max_size:
            _, evicted = self._cache.popitem(last=False)
            task = asyncio.get_running_loop().create_task(evicted.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


class _Pooled:
    """Defers closing the client until calls in flight (other jobs may still hold it) have finished."""

    def __init__(self, inner: TextGenerator) -> None:
        self.provider = inner.provider
        self._inner = inner
        self._active = 0
        self._retired = False

    async def generate(self, request: GenerationRequest, on_text: OnText) -> GenerationResult:
        self._active += 1
        try:
            return await self._inner.generate(request, on_text)
        finally:
            self._active -= 1
            if self._retired and self._active == 0:
                await self._inner.aclose()

    async def aclose(self) -> None:
        self._retired = True
        if self._active == 0:
            await self._inner.aclose()
