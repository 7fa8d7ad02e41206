"""Status-page incidents: opened and updated by admins, shown publicly on ``/api/status``.

An incident has a title, a status (``investigating`` → ``identified`` → ``monitoring`` →
``resolved``), an impact (``minor`` | ``major`` | ``critical``), the components it affects and an
append-only list of public updates (oldest first). ``resolved`` sets ``resolved_at``; a resolved
incident takes no further updates (:class:`InvalidState`). Every change is audited in the same
transaction (``incident.create`` / ``incident.update``).

Concurrent updates of one incident are serialised by a row lock (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's single writer does it there), so no update is lost from the ``updates`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import incidents
from steller_server.domain import audit
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState, NotFound, ValidationFailed
from steller_server.domain.ids import new_id
from steller_server.domain.serialize import iso

__all__ = [
    "COMPONENTS",
    "IMPACTS",
    "PUBLIC_RESOLVED_WINDOW",
    "STATUSES",
    "Incident",
    "create_incident",
    "get_incident",
    "list_public_incidents",
    "update_incident",
]

STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("minor", "major", "critical")
COMPONENTS = ("api", "fulfilment", "vendor", "webhooks")
#: Resolved incidents stay on the public page this long.
PUBLIC_RESOLVED_WINDOW = timedelta(days=7)


@dataclass(frozen=True, kw_only=True)
class Incident:
    id: str
    title: str
    status: str
    impact: str
    components: list[str]
    updates: list[dict[str, str]]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Incident:
        return cls(
            id=row["id"],
            title=row["title"],
            status=row["status"],
            impact=row["impact"],
            components=list(row["components"]),
            updates=[dict(u) for u in row["updates"]],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            resolved_at=row["resolved_at"],
        )

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def public(self) -> dict[str, Any]:
        """The ``Incident`` schema."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "impact": self.impact,
            "components": list(self.components),
            "updates": [dict(u) for u in self.updates],
            "createdAt": iso(self.created_at),
            "resolvedAt": iso(self.resolved_at),
        }


def _check(*, status: str | None, impact: str | None, components: Sequence[str] | None) -> None:
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}")
    if impact is not None and impact not in IMPACTS:
        raise ValidationFailed(f"impact must be one of {', '.join(IMPACTS)}")
    if components is not None:
        if not components:
            raise ValidationFailed("name at least one component")
        unknown = [c for c in components if c not in COMPONENTS]
        if unknown:
            raise ValidationFailed(f"unknown components: {', '.join(unknown)}")


def _update_entry(status: str, message: str, now: datetime) -> dict[str, str]:
    return {"status": status, "message": message, "createdAt": iso(now) or ""}


async def get_incident(
    conn: AsyncConnection, *, incident_id: str, for_update: bool = False
) -> Incident:
    query = select(incidents).where(incidents.c.id == incident_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound("incident not found")
    return Incident.from_row(row)


async def create_incident(
    db: Database,
    *,
    title: str,
    impact: str,
    components: Sequence[str],
    message: str,
    actor: str,
    status: str = "investigating",
    request_id: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Open an incident with ``message`` as its first update (audited ``incident.create``)."""
    _check(status=status, impact=impact, components=components)
    now = now or utcnow()
    ordered = [c for c in COMPONENTS if c in set(components)]
    row: dict[str, Any] = {
        "id": new_id("inc"),
        "title": title,
        "status": status,
        "impact": impact,
        "components": ordered,
        "updates": [_update_entry(status, message, now)],
        "created_at": now,
        "updated_at": now,
        "resolved_at": now if status == "resolved" else None,
    }
    async with db.write() as conn:
        await conn.execute(insert(incidents).values(**row))
        incident = Incident.from_row(row)
        await audit.record(
            conn,
            actor=actor,
            action="incident.create",
            target_type="incident",
            target_id=incident.id,
            after=incident.public(),
            request_id=request_id,
            now=now,
        )
    return incident


async def update_incident(
    db: Database,
    *,
    incident_id: str,
    message: str,
    actor: str,
    status: str | None = None,
    impact: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Append a public update, optionally changing status/impact (audited ``incident.update``).

    :class:`NotFound` for an unknown id, :class:`InvalidState` once the incident is resolved.
    """
    _check(status=status, impact=impact, components=None)
    now = now or utcnow()
    async with db.write() as conn:
        current = await get_incident(conn, incident_id=incident_id, for_update=True)
        if not current.is_open:
            raise InvalidState("this incident is resolved; open a new one")
        new_status = status or current.status
        new_impact = impact or current.impact
        values: dict[str, Any] = {
            "status": new_status,
            "impact": new_impact,
            "updates": [*current.updates, _update_entry(new_status, message, now)],
            "updated_at": now,
        }
        if new_status == "resolved":
            values["resolved_at"] = now
        row = (
            (
                await conn.execute(
                    update(incidents)
                    .where(incidents.c.id == incident_id)
                    .values(**values)
                    .returning(*incidents.c)
                )
            )
            .mappings()
            .one()
        )
        incident = Incident.from_row(row)
        await audit.record(
            conn,
            actor=actor,
            action="incident.update",
            target_type="incident",
            target_id=incident_id,
            before={"status": current.status, "impact": current.impact},
            after={"status": incident.status, "impact": incident.impact},
            reason=message[:500],
            request_id=request_id,
            now=now,
        )
    return incident


async def list_public_incidents(
    conn: AsyncConnection,
    *,
    now: datetime,
    resolved_within: timedelta = PUBLIC_RESOLVED_WINDOW,
    limit: int = 50,
) -> list[Incident]:
    """Open incidents and those resolved within ``resolved_within``, newest first."""
    rows = (
        (
            await conn.execute(
                select(incidents)
                .where(
                    or_(
                        incidents.c.resolved_at.is_(None),
                        incidents.c.resolved_at >= now - resolved_within,
                    )
                )
                .order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    return [Incident.from_row(r) for r in rows]
