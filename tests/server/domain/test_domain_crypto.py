"""Encryption at rest, key hashing and password hashing."""

from __future__ import annotations

import re

import pytest

from steller_server.domain import crypto

SECRET = "unit-test-secret-key-0123456789abcdef"


def test_card_codes_round_trip_and_are_bound_to_their_row() -> None:
    cipher = crypto.Cipher(SECRET)
    token = cipher.encrypt("CODE-123", associated_data="ord_1:0:code")
    assert "CODE-123" not in token
    assert token != cipher.encrypt("CODE-123", associated_data="ord_1:0:code")  # random nonce
    assert cipher.decrypt(token, associated_data="ord_1:0:code") == "CODE-123"
    with pytest.raises(crypto.DecryptionError):
        cipher.decrypt(token, associated_data="ord_2:0:code")
    with pytest.raises(crypto.DecryptionError):
        crypto.Cipher("another-secret-key-0123456789abcdef").decrypt(
            token, associated_data="ord_1:0:code"
        )
    with pytest.raises(crypto.DecryptionError):
        crypto.Cipher(SECRET, purpose="webhook-secrets").decrypt(
            token, associated_data="ord_1:0:code"
        )


def test_api_keys_look_right_and_hash_deterministically_per_secret() -> None:
    test_key = crypto.generate_api_key("sandbox")
    live_key = crypto.generate_api_key("live")
    assert re.fullmatch(r"stlr_test_[0-9A-Za-z]{40}", test_key)
    assert re.fullmatch(r"stlr_live_[0-9A-Za-z]{40}", live_key)
    digest = crypto.hash_api_key(test_key, SECRET)
    assert crypto.constant_time_equals(digest, crypto.hash_api_key(test_key, SECRET))
    assert digest != crypto.hash_api_key(test_key, SECRET + "x")
    assert len(digest) == 64
    with pytest.raises(ValueError, match="environment"):
        crypto.generate_api_key("staging")


def test_admin_passwords_use_argon2() -> None:
    hashed = crypto.hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert crypto.verify_password(hashed, "correct horse battery staple")
    assert not crypto.verify_password(hashed, "wrong")
    assert not crypto.verify_password("not-a-hash", "x")
    assert crypto.generate_webhook_secret().startswith("whsec_")
