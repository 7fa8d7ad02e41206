"""Prefixed opaque identifiers: ``ord_`` + 20 random base62 characters (~119 bits)."""

from __future__ import annotations

import secrets
import string
import uuid

__all__ = ["BASE62", "new_id", "new_request_id", "new_vendor_request_id", "random_base62"]

BASE62 = string.digits + string.ascii_letters
ID_RANDOM_LENGTH = 20

PREFIXES = frozenset(
    {
        "ptn",
        "key",
        "ord",
        "txn",
        "evt",
        "usr",
        "aud",
        "syn",
        "rec",
        "alr",
        "inc",
        "req",
        "wal",
        "log",
        "att",
        "whe",
    }
)


#: byte -> its base62 character (``b % 62``); bytes >= 248 (4 x 62) are deleted instead, so
#: every character stays uniform.
_TO_BASE62 = bytes(ord(BASE62[b % 62]) for b in range(256))
_REJECTED = bytes(range(248, 256))


def random_base62(length: int) -> str:
    # One urandom read per id and one C-level translate, not one step per character: every
    # request makes a few ids.
    out = b""
    while len(out) < length:
        out += secrets.token_bytes(length + 8).translate(_TO_BASE62, _REJECTED)
    return out[:length].decode("ascii")


def new_id(prefix: str) -> str:
    """A new id such as ``ord_7Hq2…``; ``prefix`` must be one of the API's id prefixes."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{random_base62(ID_RANDOM_LENGTH)}"


def new_request_id() -> str:
    return new_id("req")


def new_vendor_request_id() -> str:
    """The RequestId sent to Bamboo (a UUID, never the partner's referenceId)."""
    return str(uuid.uuid4())
