"""The provider table: every provider has its facts, and settings and AI settings read them from it."""

from __future__ import annotations

import msgspec
import pytest

from blogqueue.ai_settings import KEY_FIELDS, AiSettingsUpdate
from blogqueue.errors import Misconfigured
from blogqueue.providers import PROVIDERS, Provider, keyed
from blogqueue.registry import load_registry, parse_registry
from blogqueue.settings import Settings


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No provider variable from the machine running the tests."""
    for info in PROVIDERS.values():
        for name in (info.key_env, info.base_url_env):
            if name is not None:
                monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_provider_has_one_row() -> None:
    assert list(PROVIDERS) == list(Provider)
    assert all(info.label for info in PROVIDERS.values())


def test_values_are_what_the_database_and_the_wire_carry() -> None:
    assert [p.value for p in Provider] == ["gemini", "openai", "anthropic", "offline"]


def test_only_offline_goes_without_a_key() -> None:
    assert keyed() == (Provider.GEMINI, Provider.OPENAI, Provider.ANTHROPIC)
    assert not PROVIDERS[Provider.OFFLINE].needs_key and PROVIDERS[Provider.OFFLINE].key_env is None


@pytest.mark.parametrize("provider", keyed())
def test_settings_find_each_server_key_by_the_tables_variable(
    provider: Provider, bare_env: pytest.MonkeyPatch
) -> None:
    env = PROVIDERS[provider].key_env
    assert env is not None
    bare_env.setenv(env, f"server-key-for-{provider}")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert {p: settings.server_key(p) is not None for p in Provider} == {p: p is provider for p in Provider}
    key = settings.server_key(provider)
    assert key is not None and key.get_secret_value() == f"server-key-for-{provider}"


@pytest.mark.parametrize("provider", [p for p in Provider if PROVIDERS[p].base_url_env])
def test_settings_find_each_base_url_by_the_tables_variable(
    provider: Provider, bare_env: pytest.MonkeyPatch
) -> None:
    env = PROVIDERS[provider].base_url_env
    assert env is not None
    bare_env.setenv(env, f"http://{provider}.test/v1")
    urls = Settings(_env_file=None).provider_base_urls()  # type: ignore[call-arg]
    assert urls == {p: f"http://{provider}.test/v1" if p is provider else None for p in urls}
    assert set(urls) == {p for p in Provider if PROVIDERS[p].base_url_env}


def test_a_user_can_store_a_key_for_every_keyed_provider_and_no_other() -> None:
    wire = {f.encode_name for f in msgspec.structs.fields(AiSettingsUpdate)}
    assert wire == {"preferredAiModel", *KEY_FIELDS.values()}
    assert list(KEY_FIELDS) == list(keyed())
    body = msgspec.json.encode({field: f"key-of-{p}" for p, field in KEY_FIELDS.items()})
    update = msgspec.json.decode(body, type=AiSettingsUpdate)
    assert update.keys() == {p: f"key-of-{p}" for p in keyed()}


def test_registry_models_name_a_known_provider() -> None:
    assert {type(model.provider) for model in load_registry().all()} == {Provider}
    text = """default_model = "x"
[[models]]
id = "x"
provider = "mistral"
display_name = "X"
status = "active"
max_output_tokens = 10
accepts_temperature = true
prices = [{input_per_mtok = 0, output_per_mtok = 0}]
prices_read_on = 2026-01-01
"""
    with pytest.raises(Misconfigured, match="provider"):
        parse_registry(text)
