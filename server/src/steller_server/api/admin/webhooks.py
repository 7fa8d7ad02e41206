"""Admin: redeliver an order's webhook event.

    POST /api/admin/orders/{orderId}/retry-webhook     admin, support   (202 Event; audited)

Queues a new delivery of the order's latest ``order.*`` event (same event id) and answers with the
event in ``pending``. 409 ``invalid_state`` while the order has no event yet or when the partner
has no enabled endpoint.
"""

from __future__ import annotations

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import webhooks

endpoints = Endpoints()


@endpoints.op("adminRetryOrderWebhook", auth="admin", roles={"admin", "support"})
async def retry_order_webhook(ctx: Ctx) -> Reply:
    view = await webhooks.retry_order_webhook(
        ctx.state.db,
        order_id=ctx.path["orderId"],
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(202, webhooks.event_public(view))
