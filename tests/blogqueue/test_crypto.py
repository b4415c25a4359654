import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from blogqueue.crypto import KeyCipher
from blogqueue.errors import Misconfigured
from blogqueue.secrets_store import encryption_keys, ensure_local_secrets, session_secret
from blogqueue.settings import Settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def test_ciphertext_hides_the_key_and_decrypts_back() -> None:
    cipher = KeyCipher([Fernet.generate_key().decode()])
    token = cipher.encrypt("sk-secret-value-1234")
    assert "sk-secret" not in token
    assert cipher.decrypt(token) == "sk-secret-value-1234"


def test_the_first_ring_key_encrypts_and_every_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    saved_with_old = KeyCipher([old]).encrypt("k-123456789")
    ring = KeyCipher([new, old])
    assert ring.decrypt(saved_with_old) == "k-123456789"
    rotated = ring.rotate(saved_with_old)
    assert KeyCipher([new]).decrypt(rotated) == "k-123456789"
    with pytest.raises(InvalidToken):
        KeyCipher([old]).decrypt(rotated)


def test_a_malformed_ring_key_is_a_clear_configuration_error() -> None:
    with pytest.raises(Misconfigured, match="not a Fernet key"):
        KeyCipher(["not-a-key"])


def test_missing_secrets_say_how_to_get_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(Misconfigured, match="BLOGQUEUE_ENCRYPTION_KEYS"):
        encryption_keys(settings)
    with pytest.raises(Misconfigured, match="BLOGQUEUE_SECRET_KEY"):
        session_secret(settings)


def test_local_secrets_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert sorted(ensure_local_secrets(settings)) == ["encryption.keys", "session.key"]
    keys, secret = encryption_keys(settings), session_secret(settings)
    assert ensure_local_secrets(settings) == []
    assert (encryption_keys(settings), session_secret(settings)) == (keys, secret)
    for name in ("encryption.keys", "session.key"):
        assert stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode) == 0o600
    KeyCipher(keys)  # a valid ring


def test_configured_secrets_win_over_files_and_are_split_on_commas(tmp_path: Path) -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = _settings(tmp_path, encryption_keys=f"{first}, {second}", secret_key="s" * 40)
    assert ensure_local_secrets(settings) == []
    assert encryption_keys(settings) == [first, second]
    assert session_secret(settings) == "s" * 40
