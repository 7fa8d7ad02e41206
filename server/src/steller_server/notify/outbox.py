"""The sandbox outbox: emails captured instead of sent (sandbox mode without SMTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import outbox
from steller_server.domain.ids import ID_RANDOM_LENGTH, random_base62

__all__ = ["CapturedEmail", "capture", "list_captured"]


@dataclass(frozen=True, kw_only=True)
class CapturedEmail:
    id: str
    partner_id: str | None
    kind: str
    recipients: list[str]
    subject: str
    text_body: str
    html_body: str
    job_id: int | None
    request_id: str | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "partnerId": self.partner_id,
            "kind": self.kind,
            "to": list(self.recipients),
            "subject": self.subject,
            "text": self.text_body,
            "html": self.html_body,
            "requestId": self.request_id,
            "createdAt": self.created_at.isoformat().replace("+00:00", "Z"),
        }


async def capture(
    conn: AsyncConnection,
    *,
    payload: dict[str, Any],
    job_id: int | None,
    request_id: str | None,
    now: datetime,
) -> bool:
    """Store the email of an ``email`` job once (a re-run of the same job stores nothing)."""
    if job_id is not None:
        seen = await conn.scalar(select(outbox.c.id).where(outbox.c.job_id == job_id))
        if seen is not None:
            return False
    await conn.execute(
        insert(outbox).values(
            id="eml_" + random_base62(ID_RANDOM_LENGTH),
            partner_id=payload.get("partnerId"),
            kind=str(payload["kind"])[:40],
            recipients=list(payload["to"]),
            subject=str(payload["subject"])[:300],
            text_body=str(payload["text"]),
            html_body=str(payload["html"]),
            job_id=job_id,
            request_id=request_id,
            created_at=now,
        )
    )
    return True


async def list_captured(
    conn: AsyncConnection, *, partner_id: str | None = None, limit: int = 100
) -> list[CapturedEmail]:
    """Newest first."""
    query = select(outbox).order_by(outbox.c.created_at.desc(), outbox.c.id.desc()).limit(limit)
    if partner_id is not None:
        query = query.where(outbox.c.partner_id == partner_id)
    rows = (await conn.execute(query)).mappings()
    return [
        CapturedEmail(**{k: row[k] for k in CapturedEmail.__dataclass_fields__}) for row in rows
    ]
