"""Orders across partners, and the three admin actions on one order.

    GET  /api/admin/orders                                         any role
    GET  /api/admin/orders/{orderId}                               any role
    POST /api/admin/orders/{orderId}/cancel                        admin, support
    POST /api/admin/orders/{orderId}/refund                        admin, finance
    POST /api/admin/orders/{orderId}/mark-failed-and-refund        admin, finance

Admins never see card codes: `AdminOrder` is rendered from the order row without loading cards.
Each action happens at most once (a conditional transition / capped refund in the domain); a
second call gets 409 `invalid_state` and moves no money.
"""

from __future__ import annotations

from steller_server.api.render_admin import admin_order, instant, page
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import admin_ops, orders
from steller_server.domain.serialize import order_public

endpoints = Endpoints()

ANY_ROLE = {"admin", "support", "finance"}


@endpoints.op("adminListOrders", auth="admin", roles=ANY_ROLE)
async def list_orders(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        result = await orders.list_orders(
            conn,
            partner_id=q.get("partnerId"),
            status=q.get("status"),
            sku=q.get("sku"),
            created_from=instant(q, "from"),
            created_to=instant(q, "to"),
            limit=q.get("limit", 50),
            cursor=q.get("cursor"),
        )
        names = await admin_ops.partner_names(conn, [o.partner_id for o in result.data])
        event_ids = await admin_ops.order_events(conn, [o.id for o in result.data])
    items = [
        admin_order(o, partner_name=names.get(o.partner_id, ""), event_ids=event_ids[o.id])
        for o in result.data
    ]
    return Reply(200, page(items, result))


@endpoints.op("adminGetOrder", auth="admin", roles=ANY_ROLE)
async def get_order(ctx: Ctx) -> Reply:
    order_id = ctx.path["orderId"]
    async with ctx.state.db.read() as conn:
        order = await orders.get_order(conn, order_id=order_id)  # no cipher: no cards
        names = await admin_ops.partner_names(conn, [order.partner_id])
        event_ids = await admin_ops.order_events(conn, [order.id])
    return Reply(
        200,
        admin_order(
            order, partner_name=names.get(order.partner_id, ""), event_ids=event_ids[order.id]
        ),
    )


@endpoints.op("adminCancelOrder", auth="admin", roles={"admin", "support"})
async def cancel_order(ctx: Ctx) -> Reply:
    order = await orders.cancel_order(
        ctx.state.db,
        order_id=ctx.path["orderId"],
        actor=ctx.actor,
        reason=ctx.body["reason"],
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(200, order_public(order))


@endpoints.op("adminRefundOrder", auth="admin", roles={"admin", "finance"})
async def refund_order(ctx: Ctx) -> Reply:
    order = await orders.refund_remaining(
        ctx.state.db,
        order_id=ctx.path["orderId"],
        actor=ctx.actor,
        reason=ctx.body["reason"],
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(200, order_public(order))


@endpoints.op("adminMarkOrderFailedAndRefund", auth="admin", roles={"admin", "finance"})
async def mark_failed_and_refund(ctx: Ctx) -> Reply:
    order = await orders.mark_failed_and_refund(
        ctx.state.db,
        order_id=ctx.path["orderId"],
        actor=ctx.actor,
        reason=ctx.body["reason"],
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(200, order_public(order))
