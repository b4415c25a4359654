from pathlib import Path

import msgspec
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from blogqueue import ai_settings, db, users
from blogqueue.ai_settings import AiSettingsUpdate
from blogqueue.crypto import KeyCipher
from blogqueue.errors import InvalidInput, UndecryptableKey
from blogqueue.providers import Provider
from blogqueue.registry import load_registry
from blogqueue.secrets_store import encryption_keys
from blogqueue.settings import Settings

OPENAI_KEY = "sk-test-openai-PLAINTEXT-9876"
GEMINI_KEY = "AIzaTestGeminiPLAINTEXT-5432"


async def _stored_texts(settings: Settings) -> str:
    """Everything the provider_keys table holds, as the database returns it."""
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM provider_keys"))).all()
    finally:
        await engine.dispose()
    return repr(rows)


async def test_keys_are_stored_encrypted_and_shown_only_by_last4(db_settings: Settings) -> None:
    cipher = KeyCipher.from_settings(db_settings)
    engine = db.create_engine(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "a@example.com", "password-a")
            update = AiSettingsUpdate(
                openai_api_key=OPENAI_KEY, gemini_api_key=GEMINI_KEY, preferred_ai_model="gpt-4o"
            )
            await ai_settings.update_ai_settings(session, cipher, load_registry(), user, update)
            view = await ai_settings.get_ai_settings(session, db_settings, user)
            assert view.preferred_ai_model == "gpt-4o"
            assert view.providers["openai"].configured
            assert view.providers["openai"].last4 == "9876"
            assert view.providers["anthropic"] == ai_settings.ProviderKeyStatus(False)
            assert OPENAI_KEY not in msgspec.json.encode(view).decode()
            assert (
                await ai_settings.resolve_key(session, cipher, db_settings, user.id or 0, Provider.OPENAI)
                == OPENAI_KEY
            )
            stored = await _stored_texts(db_settings)
            assert "PLAINTEXT" not in stored
            assert "9876" in stored  # the row is there, as ciphertext plus last4

            await ai_settings.update_ai_settings(
                session, cipher, load_registry(), user, AiSettingsUpdate(openai_api_key=None)
            )
            view = await ai_settings.get_ai_settings(session, db_settings, user)
            assert not view.providers["openai"].configured
            assert view.providers["gemini"].configured  # left out: unchanged
    finally:
        await engine.dispose()
    if db_settings.database_url.startswith("sqlite"):
        files = list(Path(db_settings.data_dir).glob("blogqueue.db*"))
        assert files
        assert all(b"PLAINTEXT" not in path.read_bytes() for path in files)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (AiSettingsUpdate(preferred_ai_model="gpt-9000"), "offline"),
        (AiSettingsUpdate(preferred_ai_model="gpt-4"), "gpt-6.2-sol"),
        (AiSettingsUpdate(openai_api_key=""), "openaiApiKey"),
        (AiSettingsUpdate(anthropic_api_key="   "), "anthropicApiKey"),
        (AiSettingsUpdate(gemini_api_key="x" * 513), "geminiApiKey"),
        (AiSettingsUpdate(openai_api_key="has space inside"), "openaiApiKey"),
    ],
)
async def test_invalid_updates_change_nothing(
    sqlite_settings: Settings, update: AiSettingsUpdate, message: str
) -> None:
    cipher = KeyCipher.from_settings(sqlite_settings)
    engine = db.create_engine(sqlite_settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "a@example.com", "password-a")
            mixed = (
                msgspec.structs.replace(update, openai_api_key=OPENAI_KEY)
                if "openai" not in message
                else update
            )
            with pytest.raises(InvalidInput, match=message):
                await ai_settings.update_ai_settings(session, cipher, load_registry(), user, mixed)
            view = await ai_settings.get_ai_settings(session, sqlite_settings, user)
            assert view.preferred_ai_model == "offline"
            assert not any(status.configured for status in view.providers.values())
    finally:
        await engine.dispose()


async def test_rotation_re_encrypts_every_key_and_reports_what_it_cannot(db_settings: Settings) -> None:
    old_cipher = KeyCipher.from_settings(db_settings)
    new_key = Fernet.generate_key().decode()
    engine = db.create_engine(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            for email in ("a@example.com", "b@example.com"):
                user = await users.create_user(session, email, "password-x")
                update = AiSettingsUpdate(openai_api_key=OPENAI_KEY, anthropic_api_key="sk-ant-api-key-1111")
                await ai_settings.update_ai_settings(session, old_cipher, load_registry(), user, update)
            before = await _stored_texts(db_settings)
            ring = KeyCipher([new_key, *encryption_keys(db_settings)])
            report = await ai_settings.rotate_keys(session, ring)
            assert (report.rotated, report.failures) == (4, [])
            assert await _stored_texts(db_settings) != before
            only_new = KeyCipher([new_key])
            assert (
                await ai_settings.resolve_key(session, only_new, db_settings, user.id or 0, Provider.OPENAI)
                == OPENAI_KEY
            )

            stranger = KeyCipher([Fernet.generate_key().decode()])
            report = await ai_settings.rotate_keys(session, stranger)
            assert report.rotated == 0
            assert len(report.failures) == 4
            assert any("openai key of a@example.com" in failure for failure in report.failures)
            with pytest.raises(UndecryptableKey, match="openai key of user"):
                await ai_settings.resolve_key(session, stranger, db_settings, user.id or 0, Provider.OPENAI)
    finally:
        await engine.dispose()


async def test_the_server_key_is_the_fallback(sqlite_settings: Settings) -> None:
    settings = Settings(
        _env_file=None, **{**sqlite_settings.model_dump(), "anthropic_api_key": "sk-ant-server-key-0000"}
    )
    cipher = KeyCipher.from_settings(settings)
    engine = db.create_engine(settings)
    try:
        async with db.session_factory(engine)() as session:
            user = await users.create_user(session, "a@example.com", "password-a")
            view = await ai_settings.get_ai_settings(session, settings, user)
            assert view.server_keys == {"gemini": False, "openai": False, "anthropic": True}
            found = await ai_settings.resolve_key(session, cipher, settings, user.id or 0, Provider.ANTHROPIC)
            assert found == "sk-ant-server-key-0000"
            assert (
                await ai_settings.resolve_key(session, cipher, settings, user.id or 0, Provider.GEMINI)
                is None
            )
    finally:
        await engine.dispose()
