"""`GET /api/partner/logs`: the partner's own API requests of the last 30 days, newest first."""

from __future__ import annotations

from datetime import datetime

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import request_log_queries
from steller_server.domain.keys import Capability

endpoints = Endpoints()


def _instant(ctx: Ctx, name: str) -> datetime | None:
    raw = ctx.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ProblemError(
            "validation_failed",
            "Query parameters are not valid",
            errors=[
                {"pointer": f"/query/{name}", "message": "an RFC 3339 date-time with a time zone"}
            ],
        )
    return value


@endpoints.op("listRequestLogs", auth="partner", capability=Capability.LOGS)
async def list_request_logs(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    q = ctx.query
    async with ctx.state.db.read() as conn:
        page = await request_log_queries.list_request_logs(
            conn,
            partner_id=ctx.partner.partner_id,
            now=ctx.state.clock(),
            retention_days=ctx.state.settings.request_log_retention_days,
            method=q.get("method"),
            status=q.get("status"),
            path_prefix=q.get("pathPrefix"),
            request_id=q.get("requestId"),
            created_from=_instant(ctx, "from"),
            created_to=_instant(ctx, "to"),
            limit=int(q.get("limit", 50)),
            cursor=q.get("cursor"),
        )
    return Reply(200, {"data": [row.public() for row in page.data], "nextCursor": page.next_cursor})
