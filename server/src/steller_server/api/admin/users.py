"""Staff accounts: `GET|POST /api/admin/users` (role `admin` only)."""

from __future__ import annotations

from steller_server.api.render_admin import page
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import admin_ops

endpoints = Endpoints()


@endpoints.op("adminListUsers", auth="admin", roles={"admin"})
async def list_users(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        result = await admin_ops.list_admin_users(
            conn, limit=ctx.query.get("limit", 50), cursor=ctx.query.get("cursor")
        )
    return Reply(200, page([u.public() for u in result.data], result))


@endpoints.op("adminCreateUser", auth="admin", roles={"admin"})
async def create_user(ctx: Ctx) -> Reply:
    body = ctx.body
    user = await admin_ops.create_admin_user(
        ctx.state.db,
        email=body["email"],
        name=body["name"],
        role=body["role"],
        password=body["password"],
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(201, user.public())
