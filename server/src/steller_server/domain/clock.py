"""Time helpers. Domain functions take ``now`` so tests control time; this is the default."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_timestamp", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z`` (stable: used inside hashes)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
