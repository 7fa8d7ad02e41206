"""`GET /api/partner/usage`: orders, spend, refunds, top products, daily series, API calls."""

from __future__ import annotations

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import usage
from steller_server.domain.keys import Capability

endpoints = Endpoints()


@endpoints.op("getUsage", auth="partner", capability=Capability.FINANCE_READ)
async def get_usage(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    partner = ctx.partner.partner
    async with ctx.state.db.read() as conn:
        summary = await usage.usage_summary(
            conn,
            partner_id=partner.id,
            currency=partner.currency,
            days=int(ctx.query.get("days", 30)),
            now=ctx.state.clock(),
        )
    return Reply(200, summary.public())
