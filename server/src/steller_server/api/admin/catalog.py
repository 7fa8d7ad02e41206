"""Admin catalog sync: ``POST /api/admin/catalog/sync`` (202) and ``GET …/sync/{runId}``.

Starting a sync records the run and queues a ``catalog_sync`` job in one transaction (so a crash
cannot leave a run without its job); a worker pulls the catalog within the vendor's limits.
"""

from __future__ import annotations

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.api.vendor_callback import WORKER_EXTRA
from steller_server.domain import audit, jobs, sync_runs
from steller_server.jobs.registry import CATALOG_SYNC

endpoints = Endpoints()


@endpoints.op("adminStartCatalogSync", auth="admin", roles={"admin"})
async def admin_start_catalog_sync(ctx: Ctx) -> Reply:
    assert ctx.admin is not None
    now = ctx.state.clock()
    async with ctx.state.db.write() as conn:
        run = await sync_runs.start_run(conn, trigger="admin", now=now)
        await jobs.enqueue(
            conn,
            kind=CATALOG_SYNC,
            payload={"runId": run.id, "trigger": "admin"},
            request_id=ctx.request_id,
            dedupe_key=f"catalog_sync:{run.id}",
            max_attempts=5,
            now=now,
        )
        await audit.record(
            conn,
            actor=ctx.actor,
            action="catalog.sync",
            target_type="catalog_sync_run",
            target_id=run.id,
            after={"status": run.status, "trigger": run.trigger},
            request_id=ctx.request_id,
            now=now,
        )
    worker = ctx.state.extras.get(WORKER_EXTRA)
    if worker is not None:
        worker.wake()
    return Reply(202, run.public(), headers={"Location": f"/api/admin/catalog/sync/{run.id}"})


@endpoints.op("adminGetCatalogSync", auth="admin")
async def admin_get_catalog_sync(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        run = await sync_runs.get_run(conn, run_id=ctx.path["runId"])
    return Reply(200, run.public())
