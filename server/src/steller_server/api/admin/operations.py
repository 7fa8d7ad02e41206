"""Admin operations: reconciliation runs and alerts.

``POST /api/admin/reconciliation/run`` records a run and queues its job (one transaction) and
answers 202; ``GET /api/admin/reconciliation/runs/{runId}``; ``GET /api/admin/alerts`` (most
recently seen first); ``POST /api/admin/alerts/{alertId}/ack``.
"""

from __future__ import annotations

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.api.vendor_callback import WORKER_EXTRA
from steller_server.domain import alerts, audit, jobs
from steller_server.domain import reconciliation as rec
from steller_server.jobs.registry import RECONCILIATION

endpoints = Endpoints()


@endpoints.op("adminStartReconciliation", auth="admin", roles={"admin", "finance"})
async def admin_start_reconciliation(ctx: Ctx) -> Reply:
    now = ctx.state.clock()
    async with ctx.state.db.write() as conn:
        run = await rec.start_run(conn, now=now)
        await jobs.enqueue(
            conn,
            kind=RECONCILIATION,
            payload={"runId": run.id},
            request_id=ctx.request_id,
            dedupe_key=f"reconciliation:{run.id}",
            max_attempts=5,
            now=now,
        )
        await audit.record(
            conn,
            actor=ctx.actor,
            action="reconciliation.run",
            target_type="reconciliation_run",
            target_id=run.id,
            after={"status": run.status},
            request_id=ctx.request_id,
            now=now,
        )
    worker = ctx.state.extras.get(WORKER_EXTRA)
    if worker is not None:
        worker.wake()
    return Reply(
        202, run.public(), headers={"Location": f"/api/admin/reconciliation/runs/{run.id}"}
    )


@endpoints.op("adminGetReconciliation", auth="admin")
async def admin_get_reconciliation(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        run = await rec.get_run(conn, run_id=ctx.path["runId"])
    return Reply(200, run.public())


@endpoints.op("adminListAlerts", auth="admin")
async def admin_list_alerts(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        page = await alerts.list_alerts(
            conn,
            status=q.get("status"),
            kind=q.get("kind"),
            limit=q.get("limit", 50),
            cursor=q.get("cursor"),
        )
    return Reply(200, {"data": [a.public() for a in page.data], "nextCursor": page.next_cursor})


@endpoints.op("adminAckAlert", auth="admin")
async def admin_ack_alert(ctx: Ctx) -> Reply:
    assert ctx.admin is not None
    note = (ctx.body or {}).get("note")
    async with ctx.state.db.write() as conn:
        alert = await alerts.acknowledge(
            conn,
            alert_id=ctx.path["alertId"],
            user_id=ctx.admin.user_id,
            note=note,
            request_id=ctx.request_id,
            now=ctx.state.clock(),
        )
    return Reply(200, alert.public())
