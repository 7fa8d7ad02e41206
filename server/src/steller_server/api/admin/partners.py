"""Partner onboarding and control: partners, their status and limits, and their API keys.

GET|POST  /api/admin/partners                       any role | admin
GET|PATCH /api/admin/partners/{partnerId}           any role | admin
GET|POST  /api/admin/partners/{partnerId}/keys      any role | admin
DELETE    /api/admin/partners/{partnerId}/keys/{keyId}        admin
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from steller_server.api.render_admin import admin_partner, amount_minor, page, parse_instant
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import admin_ops, money
from steller_server.domain import partners as partners_domain
from steller_server.domain.models import Partner

endpoints = Endpoints()

ANY_ROLE = {"admin", "support", "finance"}


async def _partner_reply(ctx: Ctx, partner: Partner, status: int = 200) -> Reply:
    async with ctx.state.db.read() as conn:
        balance = (await admin_ops.balances(conn, [partner.id])).get(partner.id, 0)
    return Reply(status, admin_partner(partner, balance))


@endpoints.op("adminListPartners", auth="admin", roles=ANY_ROLE)
async def list_partners(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        result = await admin_ops.list_partners(
            conn,
            status=q.get("status"),
            query=q.get("q"),
            limit=q.get("limit", 50),
            cursor=q.get("cursor"),
        )
        money_by_id = await admin_ops.balances(conn, [p.id for p in result.data])
    items = [admin_partner(p, money_by_id.get(p.id, 0)) for p in result.data]
    return Reply(200, page(items, result))


@endpoints.op("adminCreatePartner", auth="admin", roles={"admin"})
async def create_partner(ctx: Ctx) -> Reply:
    body = ctx.body
    currency = body.get("currency", "USD")
    threshold: Decimal | None = None  # the signup default (STELLER_LOW_BALANCE_THRESHOLD)
    if "lowBalanceThreshold" in body:
        minor = amount_minor(body["lowBalanceThreshold"], currency, "/lowBalanceThreshold")
        threshold = money.from_minor(minor, currency)
    partner, _wallet = await partners_domain.create_partner(
        ctx.state.db,
        name=body["name"],
        email=body["email"],
        actor=ctx.actor,
        settings=ctx.state.settings,
        currency=currency,
        environment=body.get("environment"),
        low_balance_threshold=threshold,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return await _partner_reply(ctx, partner, 201)


@endpoints.op("adminGetPartner", auth="admin", roles=ANY_ROLE)
async def get_partner(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        partner = await partners_domain.get_partner(conn, partner_id=ctx.path["partnerId"])
    return await _partner_reply(ctx, partner)


def _changes(current: Partner, body: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` that differ from ``current`` (as update_partner arguments)."""
    changes: dict[str, Any] = {}
    if "name" in body and body["name"] != current.name:
        changes["name"] = body["name"]
    if "status" in body and body["status"] != current.status:
        changes["status"] = body["status"]
    if "lowBalanceThreshold" in body:
        minor = amount_minor(body["lowBalanceThreshold"], current.currency, "/lowBalanceThreshold")
        if minor != current.low_balance_threshold_minor:
            changes["low_balance_threshold"] = money.from_minor(minor, current.currency)
    if "rateLimits" in body:
        wanted = body["rateLimits"]
        stored = {
            "catalog": current.rate_limit_catalog,
            "orders": current.rate_limit_orders,
            "default": current.rate_limit_default,
        }
        if any(stored[k] != wanted[k] for k in stored):
            changes["rate_limits"] = dict(wanted)
    return changes


@endpoints.op("adminUpdatePartner", auth="admin", roles={"admin"})
async def update_partner(ctx: Ctx) -> Reply:
    partner_id = ctx.path["partnerId"]
    async with ctx.state.db.read() as conn:
        current = await partners_domain.get_partner(conn, partner_id=partner_id)
    changes = _changes(current, ctx.body)
    if not changes:  # PATCH converges: nothing to do, nothing audited
        return await _partner_reply(ctx, current)
    fresh = await partners_domain.update_partner(
        ctx.state.db,
        partner_id=partner_id,
        actor=ctx.actor,
        reason=ctx.body.get("reason"),
        request_id=ctx.request_id,
        now=ctx.state.clock(),
        action="partner.update",
        **changes,
    )
    return await _partner_reply(ctx, fresh)


# -- keys ---------------------------------------------------------------------------------------


@endpoints.op("adminListPartnerKeys", auth="admin", roles=ANY_ROLE)
async def list_keys(ctx: Ctx) -> Reply:
    partner_id = ctx.path["partnerId"]
    now = ctx.state.clock()
    async with ctx.state.db.read() as conn:
        await partners_domain.get_partner(conn, partner_id=partner_id)
        result = await admin_ops.list_keys(
            conn,
            partner_id=partner_id,
            limit=ctx.query.get("limit", 50),
            cursor=ctx.query.get("cursor"),
        )
    return Reply(200, page([admin_ops.key_public(k, now) for k in result.data], result))


@endpoints.op("adminCreatePartnerKey", auth="admin", roles={"admin"})
async def create_key(ctx: Ctx) -> Reply:
    body = ctx.body
    now = ctx.state.clock()
    expires_at = None
    if body.get("expiresAt") is not None:
        expires_at = parse_instant(body["expiresAt"], "/expiresAt")
    issued = await admin_ops.issue_key(
        ctx.state.db,
        partner_id=ctx.path["partnerId"],
        role=body["role"],
        secret_key=ctx.state.settings.effective_secret_key,
        actor=ctx.actor,
        ip_allowlist=body.get("ipAllowlist", []),
        expires_at=expires_at,
        revoke_existing=bool(body.get("revokeExisting", False)),
        request_id=ctx.request_id,
        now=now,
    )
    created = issued.created
    return Reply(
        201,
        {**admin_ops.key_public(created.key, now), "key": created.raw},
        headers={"Cache-Control": "no-store"},
    )


@endpoints.op("adminRevokePartnerKey", auth="admin", roles={"admin"})
async def revoke_key(ctx: Ctx) -> Reply:
    await admin_ops.revoke_partner_key(
        ctx.state.db,
        partner_id=ctx.path["partnerId"],
        key_id=ctx.path["keyId"],
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(204)
