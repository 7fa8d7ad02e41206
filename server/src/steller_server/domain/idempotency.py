"""The ``Idempotency-Key`` store (IETF httpapi idempotency draft).

    result = await idempotency.begin(db, scope=..., key=..., request_hash=...)
    match result:
        case New():        run the handler, then complete(...) — or abandon(...) on 5xx/exception
        case Replay():     answer result.status / headers / body + "Idempotent-Replayed: true"
        case InProgress(): 409 idempotency_in_progress
        case Mismatch():   422 idempotency_key_reused

The in-progress row *is* the lock: it is inserted with ``INSERT … ON CONFLICT DO NOTHING`` on the
primary key (scope, key), so of N concurrent first requests exactly one gets :class:`New`. An
in-progress row carries a lease (``locked_until``); if its holder died, a retry after the lease
takes it over. Records live ``retention`` (>= 24 h) and are then treated as absent.
``scope`` is e.g. ``"partner:ptn_…:POST /api/orders"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.dialect import insert_ignore
from steller_server.db.engine import Database
from steller_server.db.tables import idempotency_keys
from steller_server.domain.clock import utcnow

__all__ = [
    "BeginResult",
    "InProgress",
    "Mismatch",
    "New",
    "Replay",
    "abandon",
    "begin",
    "complete",
    "purge_expired",
]

DEFAULT_RETENTION = timedelta(hours=24)
DEFAULT_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class New:
    """This request owns the key: run it, then :func:`complete` or :func:`abandon`."""


@dataclass(frozen=True)
class Replay:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class InProgress:
    """Another request with this key is still running."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used with a different request."""


BeginResult = New | Replay | InProgress | Mismatch


async def begin(
    db: Database,
    *,
    scope: str,
    key: str,
    request_hash: str,
    now: datetime | None = None,
    retention: timedelta = DEFAULT_RETENTION,
    lease: timedelta = DEFAULT_LEASE,
) -> BeginResult:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValueError("Idempotency-Key must be 1..255 characters")
    retention = max(retention, DEFAULT_RETENTION)
    now = now or utcnow()
    async with db.write() as conn:
        # An expired record no longer counts: clear it so the insert below can claim the key.
        await conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.scope == scope,
                idempotency_keys.c.key == key,
                idempotency_keys.c.expires_at <= now,
            )
        )
        inserted = await conn.execute(
            insert_ignore(conn, idempotency_keys, ["scope", "key"])
            .values(
                scope=scope,
                key=key,
                request_hash=request_hash,
                state="in_progress",
                locked_until=now + lease,
                created_at=now,
                expires_at=now + retention,
            )
            .returning(idempotency_keys.c.key)
        )
        if inserted.first() is not None:
            return New()
        row = (
            (
                await conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                    )
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is None:  # pragma: no cover - deleted between the two statements
            return InProgress()
        if row["request_hash"] != request_hash:
            return Mismatch()
        if row["state"] == "completed":
            return Replay(
                status=int(row["response_status"]),
                headers=dict(row["response_headers"] or {}),
                body=bytes(row["response_body"] or b""),
            )
        return await _take_over_if_stale(conn, scope=scope, key=key, now=now, lease=lease)


async def _take_over_if_stale(
    conn: AsyncConnection, *, scope: str, key: str, now: datetime, lease: timedelta
) -> BeginResult:
    result = await conn.execute(
        update(idempotency_keys)
        .where(
            idempotency_keys.c.scope == scope,
            idempotency_keys.c.key == key,
            idempotency_keys.c.state == "in_progress",
            idempotency_keys.c.locked_until < now,
        )
        .values(locked_until=now + lease)
    )
    return New() if result.rowcount == 1 else InProgress()


async def complete(
    db: Database,
    *,
    scope: str,
    key: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> None:
    """Store the response for replays (call for every non-5xx outcome, 4xx included)."""
    async with db.write() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(
                idempotency_keys.c.scope == scope,
                idempotency_keys.c.key == key,
                idempotency_keys.c.state == "in_progress",
            )
            .values(
                state="completed",
                locked_until=None,
                response_status=status,
                response_headers=dict(headers),
                response_body=body,
            )
        )


async def abandon(db: Database, *, scope: str, key: str) -> None:
    """Release an in-progress key after a 5xx/exception so the client's retry can run."""
    async with db.write() as conn:
        await conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.scope == scope,
                idempotency_keys.c.key == key,
                idempotency_keys.c.state == "in_progress",
            )
        )


async def purge_expired(db: Database, *, now: datetime | None = None) -> int:
    async with db.write() as conn:
        result = await conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.expires_at <= (now or utcnow()))
        )
        return int(result.rowcount)
