"""Admin sessions: `POST /api/admin/login` and `POST /api/admin/logout`.

Login is public, limited per client address (class `login`, 10/min, counted whether or not it
succeeds) and never goes through the Idempotency-Key store: its response holds a bearer token that
Steller keeps only as a keyed hash. Wrong email, wrong password and disabled users all get the same
401 `invalid_credentials` after the same password-hash work.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import admin_ops, admins
from steller_server.domain.serialize import iso

endpoints = Endpoints()
log = logging.getLogger("steller.admin.auth")


@endpoints.op("adminLogin", auth="public", limit="login", store_idempotent=False)
async def admin_login(ctx: Ctx) -> Reply:
    body = ctx.body
    state = ctx.state
    now = state.clock()
    login = await admins.login(
        state.db,
        email=body["email"],
        password=body["password"],
        secret_key=state.settings.effective_secret_key,
        ttl=timedelta(hours=state.settings.admin_token_ttl_hours),
        now=now,
    )
    if login is None:
        log.warning("admin login failed from %s (request %s)", ctx.client_ip, ctx.request_id)
        raise ProblemError("invalid_credentials", "The email or password is not valid")
    await admin_ops.record_login(
        state.db, user_id=login.user.id, request_id=ctx.request_id, now=now
    )
    return Reply(
        200,
        {"token": login.token, "expiresAt": iso(login.expires_at), "user": login.user.public()},
        headers={"Cache-Control": "no-store"},
    )


@endpoints.op("adminLogout", auth="admin", roles={"admin", "support", "finance"})
async def admin_logout(ctx: Ctx) -> Reply:
    if ctx.admin is None:  # the wrapper authenticated; keeps the type checker honest
        raise RuntimeError("adminLogout without an admin principal")
    await admin_ops.logout(
        ctx.state.db,
        token_id=ctx.admin.token_id,
        user_id=ctx.admin.user_id,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(204)
