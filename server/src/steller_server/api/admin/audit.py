"""The audit log: `GET /api/admin/audit-log` (filtered, newest first) and
`GET /api/admin/audit-log/verify` (recompute the hash chain). Any admin role."""

from __future__ import annotations

from steller_server.api.render_admin import audit_entry, instant, page
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import admin_ops, audit
from steller_server.domain.serialize import iso

endpoints = Endpoints()

ANY_ROLE = {"admin", "support", "finance"}


@endpoints.op("adminListAuditLog", auth="admin", roles=ANY_ROLE)
async def list_audit_log(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        result = await admin_ops.list_audit(
            conn,
            actor=q.get("actor"),
            action=q.get("action"),
            target_type=q.get("targetType"),
            target_id=q.get("targetId"),
            created_from=instant(q, "from"),
            created_to=instant(q, "to"),
            limit=q.get("limit", 50),
            cursor=q.get("cursor"),
        )
    return Reply(200, page([audit_entry(e) for e in result.data], result))


@endpoints.op("adminVerifyAuditLog", auth="admin", roles=ANY_ROLE)
async def verify_audit_log(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        result = await audit.verify(conn, now=ctx.state.clock())
    return Reply(
        200,
        {
            "valid": result.valid,
            "entriesChecked": result.entries_checked,
            "firstInvalidId": result.first_invalid_id,
            "checkedAt": iso(result.checked_at),
        },
    )
