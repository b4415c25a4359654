"""The AI providers BlogQueue knows and the facts about each, in one table.

Everything else reads this table. Adding a provider is a member and a row here, its adapter in
`blogworker/providers/factory.py`, and the typed declarations that cannot be generated (the
`Settings` fields for its two variables, its `AiSettingsUpdate` key field); tests fail until each
is there. The values are what the database, the model registry and the wire carry: never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Provider(StrEnum):
    GEMINI = "gemini"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OFFLINE = "offline"  # writes from TMDb facts alone: no key, no network


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    label: str  # the provider's name as people write it, for messages
    key_env: str | None  # environment variable of the server-wide key; None: the provider takes no key
    base_url_env: str | None  # the SDK's own variable for a proxy or a local fake

    @property
    def needs_key(self) -> bool:
        return self.key_env is not None


PROVIDERS: Mapping[Provider, ProviderInfo] = MappingProxyType(
    {
        Provider.GEMINI: ProviderInfo("Gemini", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"),
        Provider.OPENAI: ProviderInfo("OpenAI", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        Provider.ANTHROPIC: ProviderInfo("Anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
        Provider.OFFLINE: ProviderInfo("Offline", None, None),
    }
)


def keyed() -> tuple[Provider, ...]:
    """The providers that need an API key (the ones a user can store one for), in enum order."""
    return tuple(provider for provider in Provider if PROVIDERS[provider].needs_key)
