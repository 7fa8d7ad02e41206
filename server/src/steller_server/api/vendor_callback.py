"""Bamboo's order callback: ``POST /api/vendor/bamboo/notification``.

Bamboo signs nothing; the body echoes the shared ``secretKey``, compared in constant time with
``STELLER_BAMBOO_NOTIFICATION_SECRET`` (no secret configured → every callback is refused). The
callback is never trusted for the outcome: it only makes the order's fulfilment job due now (and
wakes the in-process worker), which then asks Get Order. Unknown requestIds are acknowledged.
"""

from __future__ import annotations

import logging

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import fulfilment
from steller_server.domain.crypto import constant_time_equals

log = logging.getLogger("steller.vendor_callback")

endpoints = Endpoints()

#: ``AppState.extras`` key of the in-process worker (anything with ``wake()``), when one runs.
WORKER_EXTRA = "worker"


# Not rate limited (the contract says so): the vendor's callbacks only make a poll due sooner, and
# a forged one is refused by the secret check.
@endpoints.op("receiveBambooNotification", auth="public", limit=None)
async def receive_bamboo_notification(ctx: Ctx) -> Reply:
    body = ctx.body or {}
    expected = ctx.state.settings.bamboo_notification_secret
    given = body.get("secretKey")
    if not expected or not isinstance(given, str) or not constant_time_equals(given, expected):
        raise ProblemError("invalid_vendor_secret", "The callback secretKey is not valid")
    request_id = str(body.get("requestId") or "")
    async with ctx.state.db.write() as conn:
        found = await fulfilment.order_for_vendor_request(conn, vendor_request_id=request_id)
        outcome = "unknown"
        if found is not None:
            outcome = await fulfilment.make_due(conn, order_id=found[0], now=ctx.state.clock())
    log.info("bamboo callback for %s (%s): %s", request_id, body.get("status"), outcome)
    worker = ctx.state.extras.get(WORKER_EXTRA)
    if outcome in ("due", "revived", "created") and worker is not None:
        worker.wake()
    return Reply(204)
