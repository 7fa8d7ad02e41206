"""Partner webhooks: the endpoint, its secret, a test event, and the events API.

    GET  /api/partner/webhook                              the endpoint (or not_configured)
    PUT  /api/partner/webhook                              create (201, secret once) / replace
    POST /api/partner/webhook/rotate-secret                new secret; old one signs during grace
    POST /api/partner/webhook/test                         queue a webhook.test event (202)
    GET  /api/partner/webhook/events                       last 30 days, filters, cursor pages
    GET  /api/partner/webhook/events/{eventId}             one event with its attempts
    POST /api/partner/webhook/events/{eventId}/redeliver   deliver again, same event id (202)

All need a `developer` key (capability `webhooks`). Rules live in
:mod:`steller_server.domain.webhooks`; URL checks in :mod:`steller_server.domain.ssrf`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import webhooks
from steller_server.domain.crypto import Cipher
from steller_server.domain.keys import Capability
from steller_server.domain.pagination import DEFAULT_LIMIT
from steller_server.domain.serialize import iso

endpoints = Endpoints()

_CIPHER_EXTRA = "cipher:webhook-secrets"


def _partner_id(ctx: Ctx) -> str:
    if ctx.partner is None:  # pragma: no cover - auth="partner" always sets it
        raise RuntimeError("partner route without a partner principal")
    return ctx.partner.partner_id


def _cipher(ctx: Ctx) -> Cipher:
    cipher = ctx.state.extras.get(_CIPHER_EXTRA)
    if not isinstance(cipher, Cipher):
        cipher = webhooks.secret_cipher(ctx.state.settings.effective_secret_key)
        ctx.state.extras[_CIPHER_EXTRA] = cipher
    return cipher


def _instant(ctx: Ctx, name: str) -> datetime | None:
    value = ctx.query.get(name)
    if value is None:
        return None
    try:
        parsed: datetime | None = datetime.fromisoformat(str(value).replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ProblemError(
            "validation_failed",
            f"'{name}' must be an RFC 3339 date-time with a time zone",
            errors=[{"pointer": f"/query/{name}", "message": "not an RFC 3339 date-time"}],
        )
    return parsed


@endpoints.op("getWebhookEndpoint", auth="partner", capability=Capability.WEBHOOKS)
async def get_endpoint(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        endpoint = await webhooks.get_endpoint(conn, partner_id=_partner_id(ctx))
    return Reply(200, webhooks.endpoint_public(endpoint, now=ctx.state.clock()))


@endpoints.op("putWebhookEndpoint", auth="partner", capability=Capability.WEBHOOKS)
async def put_endpoint(ctx: Ctx) -> Reply:
    body = ctx.body
    now = ctx.state.clock()
    result = await webhooks.configure_endpoint(
        ctx.state.db,
        partner_id=_partner_id(ctx),
        url=body["url"],
        enabled=body.get("enabled", True),
        event_types=body.get("eventTypes"),
        mode=ctx.state.settings.mode,
        cipher=_cipher(ctx),
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=now,
    )
    rendered = webhooks.endpoint_public(result.endpoint, now=now, secret=result.secret)
    return Reply(201 if result.created else 200, rendered)


@endpoints.op("rotateWebhookSecret", auth="partner", capability=Capability.WEBHOOKS)
async def rotate_secret(ctx: Ctx) -> Reply:
    hours = (ctx.body or {}).get("gracePeriodHours", ctx.state.settings.webhook_secret_grace_hours)
    secret, expires_at = await webhooks.rotate_secret(
        ctx.state.db,
        partner_id=_partner_id(ctx),
        grace=timedelta(hours=hours),
        cipher=_cipher(ctx),
        actor=ctx.actor,
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(200, {"secret": secret, "previousSecretExpiresAt": iso(expires_at)})


@endpoints.op("sendTestWebhook", auth="partner", capability=Capability.WEBHOOKS)
async def send_test(ctx: Ctx) -> Reply:
    view = await webhooks.send_test_event(
        ctx.state.db, partner_id=_partner_id(ctx), request_id=ctx.request_id, now=ctx.state.clock()
    )
    return Reply(202, webhooks.event_public(view))


@endpoints.op("listWebhookEvents", auth="partner", capability=Capability.WEBHOOKS)
async def list_events(ctx: Ctx) -> Reply:
    q = ctx.query
    async with ctx.state.db.read() as conn:
        page = await webhooks.list_events(
            conn,
            partner_id=_partner_id(ctx),
            event_type=q.get("type"),
            status=q.get("status"),
            created_from=_instant(ctx, "from"),
            created_to=_instant(ctx, "to"),
            limit=q.get("limit", DEFAULT_LIMIT),
            cursor=q.get("cursor"),
            now=ctx.state.clock(),
        )
    return Reply(
        200, {"data": [webhooks.event_public(v) for v in page.data], "nextCursor": page.next_cursor}
    )


@endpoints.op("getWebhookEvent", auth="partner", capability=Capability.WEBHOOKS)
async def get_event(ctx: Ctx) -> Reply:
    async with ctx.state.db.read() as conn:
        view = await webhooks.get_event(
            conn, event_id=ctx.path["eventId"], partner_id=_partner_id(ctx)
        )
    return Reply(200, webhooks.event_public(view))


@endpoints.op("redeliverWebhookEvent", auth="partner", capability=Capability.WEBHOOKS)
async def redeliver_event(ctx: Ctx) -> Reply:
    view = await webhooks.redeliver(
        ctx.state.db,
        event_id=ctx.path["eventId"],
        partner_id=_partner_id(ctx),
        request_id=ctx.request_id,
        now=ctx.state.clock(),
    )
    return Reply(202, webhooks.event_public(view))
