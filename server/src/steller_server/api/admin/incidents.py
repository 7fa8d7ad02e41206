"""Admin incidents: open (`POST /api/admin/incidents`) and update (`PATCH …/{incidentId}`).

Both are audited by the domain (`incident.create` / `incident.update`) in the same transaction.
"""

from __future__ import annotations

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import incidents

endpoints = Endpoints()

ROLES = {"admin", "support"}


@endpoints.op("adminCreateIncident", auth="admin", roles=ROLES)
async def create_incident(ctx: Ctx) -> Reply:
    body = ctx.body
    incident = await incidents.create_incident(
        ctx.state.db,
        title=body["title"],
        impact=body["impact"],
        components=body["components"],
        message=body["message"],
        status=body.get("status", "investigating"),
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    location = f"/api/admin/incidents/{incident.id}"
    return Reply(201, incident.public(), headers={"Location": location})


@endpoints.op("adminUpdateIncident", auth="admin", roles=ROLES)
async def update_incident(ctx: Ctx) -> Reply:
    body = ctx.body
    incident = await incidents.update_incident(
        ctx.state.db,
        incident_id=str(ctx.path["incidentId"]),
        message=body["message"],
        status=body.get("status"),
        impact=body.get("impact"),
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(200, incident.public())
