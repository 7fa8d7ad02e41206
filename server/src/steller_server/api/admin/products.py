"""Product approvals per partner, and our copy of the vendor catalog.

    GET|PUT /api/admin/partners/{partnerId}/products          any role | admin
    DELETE  /api/admin/partners/{partnerId}/products/{sku}    admin
    GET     /api/admin/products                               any role

Approvals are all-or-nothing through the profit guard: a loss-making or unknown entry gets 422
naming every bad entry by pointer, and nothing is approved.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from steller_server.api.problems import ProblemError
from steller_server.api.render_admin import page, vendor_product
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import admin_ops, catalog
from steller_server.domain import partners as partners_domain

endpoints = Endpoints()

ANY_ROLE = {"admin", "support", "finance"}
_POINTER_FIELD = {"price_below_cost": "discountPercent", "product_not_available": "sku"}


async def _approved_page(
    ctx: Ctx, partner_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    settings = ctx.state.settings
    async with ctx.state.db.read() as conn:
        partner = await partners_domain.get_partner(conn, partner_id=partner_id)
        result = await admin_ops.approved_products(
            conn,
            partner=partner,
            order_fee=settings.order_fee,
            fee_currency=settings.order_fee_currency,
            limit=limit,
            cursor=cursor,
        )
    return page([v.public() for v in result.data], result)


@endpoints.op("adminListPartnerProducts", auth="admin", roles=ANY_ROLE)
async def list_partner_products(ctx: Ctx) -> Reply:
    body = await _approved_page(
        ctx, ctx.path["partnerId"], limit=ctx.query.get("limit", 50), cursor=ctx.query.get("cursor")
    )
    return Reply(200, body)


@endpoints.op("adminSetPartnerProducts", auth="admin", roles={"admin"})
async def set_partner_products(ctx: Ctx) -> Reply:
    partner_id = ctx.path["partnerId"]
    items = [
        catalog.ApprovalItem(sku=p["sku"], discount_percent=Decimal(p["discountPercent"]))
        for p in ctx.body["products"]
    ]
    settings = ctx.state.settings
    try:
        await admin_ops.set_approvals(
            ctx.state.db,
            partner_id=partner_id,
            items=items,
            replace_all=bool(ctx.body.get("replace", False)),
            actor=ctx.actor,
            order_fee=settings.order_fee,
            fee_currency=settings.order_fee_currency,
            request_id=ctx.request_id,
            now=ctx.state.clock(),
        )
    except catalog.ApprovalRejected as exc:
        problems = exc.problems
        codes = {p["code"] for p in problems}
        code = "price_below_cost" if "price_below_cost" in codes else "product_not_available"
        errors = [
            {
                "pointer": f"/products/{p['index']}/{_POINTER_FIELD.get(p['code'], 'sku')}",
                "message": p["message"],
            }
            for p in problems
        ]
        raise ProblemError(
            code,
            f"{len(problems)} of {len(items)} approvals refused; nothing was changed",
            errors=errors,
        ) from None
    # The whole approved set, as one page.
    body = await _approved_page(ctx, partner_id, limit=200, cursor=None)
    while body["nextCursor"] is not None:
        more = await _approved_page(ctx, partner_id, limit=200, cursor=body["nextCursor"])
        body = {"data": body["data"] + more["data"], "nextCursor": more["nextCursor"]}
    return Reply(200, body)


@endpoints.op("adminRevokePartnerProduct", auth="admin", roles={"admin"})
async def revoke_partner_product(ctx: Ctx) -> Reply:
    await admin_ops.revoke_approval(
        ctx.state.db,
        partner_id=ctx.path["partnerId"],
        sku=ctx.path["sku"],
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(204)


@endpoints.op("adminListVendorProducts", auth="admin", roles=ANY_ROLE)
async def list_vendor_products(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        result = await admin_ops.list_vendor_products(
            conn,
            query=q.get("q"),
            currency=q.get("currency"),
            available=q.get("available"),
            limit=q.get("limit", 50),
            cursor=q.get("cursor"),
        )
    return Reply(200, page([vendor_product(p) for p in result.data], result))
