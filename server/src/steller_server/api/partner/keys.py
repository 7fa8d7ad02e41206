"""Partner API keys: list, rotate the calling key (with a grace period), revoke.

Roles follow the contract's ``x-steller-roles``: listing and revoking need a ``developer`` key
(capability ``keys``); any key may rotate *itself*, but only a ``developer`` key may give the new
key a different role. Rotation and revocation are audited in the same transaction as the change.

A rotation sent with an Idempotency-Key is replayed like any POST: a retry after a lost response
gets the same new key (the stored response is encrypted at rest by the routing layer), instead of
minting a second key the caller never saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import audit, keys
from steller_server.domain.errors import InvalidState
from steller_server.domain.keys import Capability
from steller_server.domain.models import ApiKey
from steller_server.domain.pagination import decode_cursor, encode_cursor
from steller_server.domain.serialize import iso

endpoints = Endpoints()

DEFAULT_GRACE_HOURS = 24


def key_public(key: ApiKey, now: datetime) -> dict[str, Any]:
    """The ``ApiKey`` schema (never the secret)."""
    return {
        "id": key.id,
        "role": key.role,
        "prefix": key.prefix,
        "last4": key.last4,
        "status": key.status_at(now),
        "createdAt": iso(key.created_at),
        "lastUsedAt": iso(key.last_used_at),
        "expiresAt": iso(key.expires_at),
        "revokedAt": iso(key.revoked_at),
        "ipAllowlist": list(key.ip_allowlist),
    }


@endpoints.op("listApiKeys", auth="partner", capability=Capability.KEYS)
async def list_api_keys(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    limit = int(ctx.query.get("limit", 50))
    cursor = ctx.query.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    now = ctx.state.clock()
    async with ctx.state.db.read() as conn:
        found = await keys.list_keys(
            conn, partner_id=ctx.partner.partner_id, limit=limit + 1, after=after
        )
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None
    return Reply(200, {"data": [key_public(k, now) for k in page], "nextCursor": next_cursor})


@endpoints.op("rotateApiKey", auth="partner")
async def rotate_api_key(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    body: dict[str, Any] = ctx.body or {}
    caller = ctx.partner.key
    role = body.get("role")
    if role is not None and caller.role not in (role, "developer"):
        raise ProblemError(
            "insufficient_role",
            f"A '{caller.role}' key may rotate itself but not create a '{role}' key",
        )
    grace = int(body.get("gracePeriodHours", DEFAULT_GRACE_HOURS))
    now = ctx.state.clock()
    async with ctx.state.db.write() as conn:
        created = await keys.rotate_key(
            conn,
            key_id=caller.id,
            partner_id=ctx.partner.partner_id,
            secret_key=ctx.state.settings.effective_secret_key,
            grace_period_hours=grace,
            role=role,
            ip_allowlist=body.get("ipAllowlist"),
            now=now,
        )
        previous_expires = created.previous_key_expires_at if grace > 0 else None
        await audit.record(
            conn,
            actor=ctx.actor,
            action="api_key.rotate",
            target_type="api_key",
            target_id=caller.id,
            before={"status": caller.status_at(now), "expiresAt": iso(caller.expires_at)},
            after={
                "status": "expiring" if grace > 0 else "revoked",
                "expiresAt": iso(previous_expires),
                "newKeyId": created.key.id,
                "newKeyRole": created.key.role,
                "newKeyIpAllowlist": list(created.key.ip_allowlist),
            },
            request_id=ctx.request_id,
            now=now,
        )
    out = key_public(created.key, now)
    out["key"] = created.raw
    out["previousKeyExpiresAt"] = iso(previous_expires)
    return Reply(201, out)


@endpoints.op("revokeApiKey", auth="partner", capability=Capability.KEYS)
async def revoke_api_key(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    key_id = str(ctx.path["keyId"])
    now = ctx.state.clock()
    async with ctx.state.db.write() as conn:
        key = await keys.get_key(conn, key_id=key_id, partner_id=ctx.partner.partner_id)
        before = key.status_at(now)
        if before in ("revoked", "expired"):
            return Reply(204)  # already dead: succeeds and changes nothing
        try:
            await keys.revoke_key(conn, key_id=key.id, partner_id=ctx.partner.partner_id, now=now)
        except InvalidState:
            return Reply(204)  # revoked concurrently
        await audit.record(
            conn,
            actor=ctx.actor,
            action="api_key.revoke",
            target_type="api_key",
            target_id=key.id,
            before={"status": before},
            after={"status": "revoked"},
            request_id=ctx.request_id,
            now=now,
        )
    return Reply(204)
