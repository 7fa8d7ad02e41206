"""Secrets at rest and credentials.

- Card codes, PINs, serials and webhook secrets: AES-256-GCM with a key derived by HKDF-SHA256
  from ``STELLER_SECRET_KEY`` (one derived key per purpose), a random 96-bit nonce per value and
  associated data binding the ciphertext to its row (a code copied to another order fails to
  decrypt). Stored as ``v1.<base64url(nonce || ciphertext)>``.
- API keys and admin session tokens: stored only as HMAC-SHA256 (keyed with a key derived from the
  secret key), hex; compare with :func:`constant_time_equals`.
- Admin passwords: argon2id (argon2-cffi).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from steller_server.domain.ids import random_base62

__all__ = [
    "API_KEY_PREFIXES",
    "Cipher",
    "DecryptionError",
    "constant_time_equals",
    "derive_key",
    "generate_api_key",
    "generate_token",
    "generate_webhook_secret",
    "hash_api_key",
    "hash_password",
    "hash_token",
    "password_needs_rehash",
    "verify_password",
]

API_KEY_PREFIXES = {"sandbox": "stlr_test_", "live": "stlr_live_"}
API_KEY_RANDOM_LENGTH = 40
_VERSION = "v1"


class DecryptionError(Exception):
    """Ciphertext was tampered with, bound to another row, or made with another key."""


@lru_cache(maxsize=32)
def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """A ``length``-byte key for ``purpose`` from the server secret (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"steller/v1", info=purpose.encode()
    ).derive(secret_key.encode())


class Cipher:
    """Authenticated encryption for one purpose (``"cards"``, ``"webhook-secrets"``)."""

    def __init__(self, secret_key: str, purpose: str = "cards") -> None:
        self._aead = AESGCM(derive_key(secret_key, f"encrypt:{purpose}"))

    def encrypt(self, plaintext: str, *, associated_data: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), associated_data.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, associated_data: str) -> str:
        version, _, body = token.partition(".")
        if version != _VERSION:
            raise DecryptionError(f"unknown ciphertext version {version!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = self._aead.decrypt(raw[:12], raw[12:], associated_data.encode())
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("cannot decrypt value") from exc
        return plain.decode()


def _hmac_hex(secret_key: str, purpose: str, value: str) -> str:
    return hmac.new(derive_key(secret_key, purpose), value.encode(), hashlib.sha256).hexdigest()


def hash_api_key(raw_key: str, secret_key: str) -> str:
    """The stored form of an API key (hex HMAC-SHA256); the raw key is never stored."""
    return _hmac_hex(secret_key, "api-key", raw_key)


def hash_token(token: str, secret_key: str) -> str:
    """The stored form of an admin session token."""
    return _hmac_hex(secret_key, "admin-token", token)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def generate_api_key(environment: str) -> str:
    """``stlr_test_`` (sandbox) or ``stlr_live_`` + 40 base62 characters (~238 bits)."""
    try:
        prefix = API_KEY_PREFIXES[environment]
    except KeyError:
        raise ValueError(f"unknown environment {environment!r}") from None
    return prefix + random_base62(API_KEY_RANDOM_LENGTH)


def generate_token(nbytes: int = 32) -> str:
    """An opaque bearer token (URL-safe)."""
    return secrets.token_urlsafe(nbytes)


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
