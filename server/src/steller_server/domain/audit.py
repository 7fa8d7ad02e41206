"""The audit log: a hash chain of who changed what.

Each entry stores ``prev_hash`` (the previous entry's hash, or 64 zeros for the first) and
``hash = sha256(prev_hash + canonical JSON of the entry)``. :func:`record` serialises writers so
the chain never forks (PostgreSQL: ``pg_advisory_xact_lock``; SQLite: the caller already holds the
single write lock via ``Database.write()``). :func:`verify` recomputes the chain and reports the
first entry that does not match: an edited entry fails its own hash, a deleted one breaks the
sequence/prev_hash of the entry after it.

Limitation: removing the newest entries (truncating the tail) leaves a valid shorter chain; anchor
the head hash outside the database (e.g. in reconciliation reports) to detect that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import audit_log
from steller_server.domain.clock import format_timestamp, utcnow
from steller_server.domain.ids import new_id
from steller_server.domain.models import AuditEntry

__all__ = ["GENESIS_HASH", "AuditVerification", "canonical_json", "jsonable", "record", "verify"]

GENESIS_HASH = "0" * 64
#: Arbitrary constant key of the PostgreSQL advisory lock that serialises audit writers.
AUDIT_LOCK_KEY = 0x5735_4C4C_4155_4454
_BATCH = 1000


def jsonable(value: Any) -> Any:
    """Plain JSON types only: Decimal → str, datetime → RFC 3339, tuples → lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, float):
        raise TypeError("floats are not allowed in audit snapshots")
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = {
        "id": entry["id"],
        "sequence": entry["sequence"],
        "actor": entry["actor"],
        "action": entry["action"],
        "targetType": entry["target_type"],
        "targetId": entry["target_id"],
        "before": entry["before"],
        "after": entry["after"],
        "reason": entry["reason"],
        "requestId": entry["request_id"],
        "createdAt": format_timestamp(entry["created_at"]),
    }
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append an entry in the caller's (write) transaction."""
    now = now or utcnow()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    last = (
        await conn.execute(
            select(audit_log.c.sequence, audit_log.c.hash)
            .order_by(audit_log.c.sequence.desc())
            .limit(1)
        )
    ).one_or_none()
    entry: dict[str, Any] = {
        "id": new_id("aud"),
        "sequence": (last.sequence + 1) if last else 1,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "before": jsonable(before) if before is not None else None,
        "after": jsonable(after) if after is not None else None,
        "reason": reason,
        "request_id": request_id,
        "created_at": now,
        "prev_hash": last.hash if last else GENESIS_HASH,
    }
    entry["hash"] = _entry_hash(entry["prev_hash"], entry)
    await conn.execute(insert(audit_log).values(**entry))
    return AuditEntry(**entry)


@dataclass(frozen=True, kw_only=True)
class AuditVerification:
    valid: bool
    entries_checked: int
    first_invalid_id: str | None
    checked_at: datetime


async def verify(conn: AsyncConnection, *, now: datetime | None = None) -> AuditVerification:
    """Walk the chain in sequence order, in batches; stop at the first broken link."""
    now = now or utcnow()
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    checked = 0
    while True:
        rows = (
            (
                await conn.execute(
                    select(audit_log)
                    .where(audit_log.c.sequence >= expected_sequence)
                    .order_by(audit_log.c.sequence)
                    .limit(_BATCH)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            checked += 1
            entry = dict(row)
            if (
                entry["sequence"] != expected_sequence
                or entry["prev_hash"] != prev_hash
                or _entry_hash(prev_hash, entry) != entry["hash"]
            ):
                return AuditVerification(
                    valid=False,
                    entries_checked=checked,
                    first_invalid_id=entry["id"],
                    checked_at=now,
                )
            prev_hash = entry["hash"]
            expected_sequence += 1
        if len(rows) < _BATCH:
            return AuditVerification(
                valid=True, entries_checked=checked, first_invalid_id=None, checked_at=now
            )
