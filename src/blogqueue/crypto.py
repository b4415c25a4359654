"""Provider keys encrypted at rest with a Fernet key ring (MultiFernet: the first key encrypts,
every key decrypts, so keys can be rotated without downtime)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from blogqueue.errors import Misconfigured
from blogqueue.secrets_store import encryption_keys
from blogqueue.settings import Settings


class KeyCipher:
    def __init__(self, keys: list[str]) -> None:
        try:
            self._ring = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError) as err:
            raise Misconfigured(
                "BLOGQUEUE_ENCRYPTION_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes; make one with 'blogqueue keys generate')"
            ) from err

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyCipher:
        return cls(encryption_keys(settings))

    def encrypt(self, plaintext: str) -> str:
        return self._ring.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Raises InvalidToken when no key in the ring fits; callers name the user and provider."""
        return self._ring.decrypt(ciphertext.encode()).decode()

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the newest key."""
        return self._ring.rotate(ciphertext.encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


__all__ = ["InvalidToken", "KeyCipher", "generate_key"]
