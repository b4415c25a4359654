"""A user's AI settings: preferred model and provider keys, encrypted at rest.

Keys are decrypted only at the point of use (`resolve_key`); they are never returned, logged or
put on the queue. Reads show whether a key is set, its last four characters and when it was set.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import structlog
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.crypto import InvalidToken, KeyCipher
from blogqueue.errors import InvalidInput, UndecryptableKey
from blogqueue.models import ProviderKey, User, utcnow
from blogqueue.providers import Provider, keyed
from blogqueue.registry import AiModel, ModelRegistry
from blogqueue.settings import Settings

log = structlog.get_logger("blogqueue.ai_settings")

MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 512
# AiSettingsUpdate has a `<provider>_api_key` field (`<provider>ApiKey` on the wire) per keyed provider.
KEY_FIELDS = {provider: f"{provider.value}ApiKey" for provider in keyed()}


class ProviderKeyStatus(msgspec.Struct, rename="camel"):
    configured: bool
    last4: str | None = None
    updated_at: datetime | None = None


class AiSettingsView(msgspec.Struct, rename="camel"):
    preferred_ai_model: str
    providers: dict[str, ProviderKeyStatus]
    server_keys: dict[str, bool]  # a server-wide fallback key exists for the provider


class AiSettingsUpdate(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Left out: unchanged. `null`: remove the key. A string: set it."""

    preferred_ai_model: str | msgspec.UnsetType = msgspec.UNSET
    gemini_api_key: str | msgspec.UnsetType | None = msgspec.UNSET
    openai_api_key: str | msgspec.UnsetType | None = msgspec.UNSET
    anthropic_api_key: str | msgspec.UnsetType | None = msgspec.UNSET

    def keys(self) -> dict[Provider, str | msgspec.UnsetType | None]:
        return {provider: getattr(self, f"{provider.value}_api_key") for provider in keyed()}


def check_key(field: str, key: str) -> None:
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH or any(
        c.isspace() or not c.isprintable() for c in key
    ):
        raise InvalidInput(
            f"{field} must be {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} printable characters without spaces",
            field=field,
        )


async def _stored_keys(session: AsyncSession, user_id: int) -> dict[Provider, ProviderKey]:
    rows = await session.exec(select(ProviderKey).where(col(ProviderKey.user_id) == user_id))
    return {row.provider: row for row in rows.all()}


async def get_ai_settings(session: AsyncSession, settings: Settings, user: User) -> AiSettingsView:
    assert user.id is not None
    stored = await _stored_keys(session, user.id)
    providers = {
        provider.value: ProviderKeyStatus(True, stored[provider].last4, stored[provider].updated_at)
        if provider in stored
        else ProviderKeyStatus(False)
        for provider in keyed()
    }
    server_keys = {provider.value: settings.server_key(provider) is not None for provider in keyed()}
    return AiSettingsView(user.preferred_ai_model, providers, server_keys)


def unkeyed_model(view: AiSettingsView, registry: ModelRegistry) -> AiModel | None:
    """The preferred model, when its provider needs a key and neither the user nor the server has
    one: runs with it would fail, so the pages warn before anyone starts one."""
    try:
        model = registry.get(view.preferred_ai_model)
    except InvalidInput:
        return None  # an unknown model is a different problem, reported where it is used
    provider = model.provider.value
    keys = view.providers.get(provider)
    if keys is None or keys.configured or view.server_keys.get(provider):
        return None  # the provider takes no key (offline), or one is there
    return model


async def update_ai_settings(
    session: AsyncSession, cipher: KeyCipher, registry: ModelRegistry, user: User, update: AiSettingsUpdate
) -> None:
    """Validate every field first; then apply all of them in one transaction, or nothing."""
    assert user.id is not None
    if not isinstance(update.preferred_ai_model, msgspec.UnsetType):
        registry.require_usable(update.preferred_ai_model)
    for provider, key in update.keys().items():
        if isinstance(key, str):
            check_key(KEY_FIELDS[provider], key)
    stored = await _stored_keys(session, user.id)
    if not isinstance(update.preferred_ai_model, msgspec.UnsetType):
        user.preferred_ai_model = update.preferred_ai_model
        session.add(user)
    for provider, key in update.keys().items():
        row = stored.get(provider)
        if key is None and row is not None:
            await session.delete(row)
        elif isinstance(key, str):
            row = row or ProviderKey(user_id=user.id, provider=provider, ciphertext="", last4="")
            row.ciphertext, row.last4, row.updated_at = cipher.encrypt(key), key[-4:], utcnow()
            session.add(row)
    await session.commit()
    changed = [KEY_FIELDS[p] for p, key in update.keys().items() if not isinstance(key, msgspec.UnsetType)]
    log.info("ai_settings_updated", user_id=user.id, fields=changed)


async def has_key(session: AsyncSession, settings: Settings, user_id: int, provider: Provider) -> bool:
    """Whether a key would be found for the provider, without decrypting anything."""
    return provider in await _stored_keys(session, user_id) or settings.server_key(provider) is not None


async def resolve_key(
    session: AsyncSession, cipher: KeyCipher, settings: Settings, user_id: int, provider: Provider
) -> str | None:
    """The user's key, else the server-wide one, else None."""
    row = (await _stored_keys(session, user_id)).get(provider)
    return key_for(cipher, settings, user_id, provider, row.ciphertext if row else None)


def key_for(
    cipher: KeyCipher, settings: Settings, user_id: int, provider: Provider, ciphertext: str | None
) -> str | None:
    """The user's stored key (`ciphertext`), else the server-wide one, else None. Decrypted only
    here, at the point of use."""
    if ciphertext is not None:
        try:
            return cipher.decrypt(ciphertext)
        except InvalidToken as err:
            raise UndecryptableKey(
                f"the stored {provider.value} key of user {user_id} cannot be decrypted with the current "
                "BLOGQUEUE_ENCRYPTION_KEYS; add the key it was saved with to the ring, or save the key again"
            ) from err
    server = settings.server_key(provider)
    return server.get_secret_value() if server else None


class RotationReport(msgspec.Struct):
    rotated: int
    failures: list[str]


async def rotate_keys(session: AsyncSession, cipher: KeyCipher) -> RotationReport:
    """Re-encrypt every stored key with the newest ring key; report (not crash on) the ones that fail."""
    rows = await session.exec(
        select(ProviderKey, User.email).join(User, col(User.id) == col(ProviderKey.user_id))
    )
    rotated, failures = 0, []
    for row, email in rows.all():
        try:
            row.ciphertext = cipher.rotate(row.ciphertext)
        except InvalidToken:
            failures.append(
                f"the {row.provider} key of {email} cannot be decrypted by any key in the ring; "
                "add the key it was saved with to BLOGQUEUE_ENCRYPTION_KEYS, or have the user save it again"
            )
            continue
        session.add(row)
        rotated += 1
    await session.commit()
    return RotationReport(rotated, failures)
