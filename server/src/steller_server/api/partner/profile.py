"""The calling partner's profile: ``GET|PATCH /api/partner/me``.

GET answers from the partner row authentication already loaded (no further query). PATCH changes
the name, the low-balance threshold (in the wallet currency) and the notification settings
(merged field by field) through :func:`steller_server.domain.partners.update_partner`, which
audits the diff.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from steller_server.api.problems import ProblemError
from steller_server.api.render_admin import MAX_AMOUNT_MINOR
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import money, partners
from steller_server.domain.keys import Capability
from steller_server.domain.models import Partner
from steller_server.domain.serialize import partner_public

endpoints = Endpoints()


def _me(ctx: Ctx) -> Partner:
    if ctx.partner is None:  # pragma: no cover - auth="partner" always sets it
        raise RuntimeError("partner route without a partner principal")
    return ctx.partner.partner


@endpoints.op("getPartner", auth="partner")
async def get_partner(ctx: Ctx) -> Reply:
    return Reply(200, partner_public(_me(ctx)))


@endpoints.op("updatePartner", auth="partner", capability=Capability.PARTNER_WRITE)
async def update_partner(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    body = ctx.body
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = body["name"]
    if "lowBalanceThreshold" in body:
        threshold = Decimal(body["lowBalanceThreshold"])
        if not money.is_exact(threshold, partner.currency):
            raise ProblemError(
                "validation_failed",
                f"lowBalanceThreshold has more decimals than {partner.currency} allows",
                errors=[
                    {
                        "pointer": "/lowBalanceThreshold",
                        "message": f"at most {money.exponent(partner.currency)} decimals",
                    }
                ],
            )
        if abs(money.to_minor_exact(threshold, partner.currency)) > MAX_AMOUNT_MINOR:
            # Stored in minor units as a bigint: beyond it PostgreSQL refuses the row (a 500).
            raise ProblemError(
                "validation_failed",
                "lowBalanceThreshold is larger than any amount Steller accepts",
                errors=[{"pointer": "/lowBalanceThreshold", "message": "amount too large"}],
            )
        changes["low_balance_threshold"] = threshold
    if "notifications" in body:
        changes["notifications"] = body["notifications"]
    fresh = await partners.update_partner(
        ctx.state.db,
        partner_id=partner.id,
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
        **changes,
    )
    return Reply(200, partner_public(fresh))
