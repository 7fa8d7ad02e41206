"""Partner orders: quote, place, list, get (with cards once delivered) and the money trail.

``POST /api/orders`` is one call into :func:`steller_server.domain.orders.place_order`, which does
everything in ONE write transaction (replay check on ``referenceId``, price, guarded debit + ledger
row, order, fulfilment job). The route adds no read of its own: the partner comes from
authentication and the wallet currency is the partner's. Orders stay ``processing`` until the
fulfilment worker ends them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import money
from steller_server.domain import orders as order_ops
from steller_server.domain.crypto import Cipher
from steller_server.domain.keys import Capability
from steller_server.domain.models import Partner
from steller_server.domain.pagination import DEFAULT_LIMIT
from steller_server.domain.serialize import order_public

endpoints = Endpoints()

_CIPHER_EXTRA = "cipher:cards"


def _me(ctx: Ctx) -> Partner:
    if ctx.partner is None:  # pragma: no cover - auth="partner" always sets it
        raise RuntimeError("partner route without a partner principal")
    return ctx.partner.partner


def _cipher(ctx: Ctx) -> Cipher:
    """The card cipher, built once per app (the derived key is the same for every request)."""
    cipher = ctx.state.extras.get(_CIPHER_EXTRA)
    if not isinstance(cipher, Cipher):
        cipher = Cipher(ctx.state.settings.effective_secret_key, purpose="cards")
        ctx.state.extras[_CIPHER_EXTRA] = cipher
    return cipher


def parse_instant(value: str | None, name: str) -> datetime | None:
    """A ``from``/``to`` query value (checked as an RFC 3339 date-time) as an aware datetime."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ProblemError(
            "validation_failed",
            f"'{name}' must be an RFC 3339 date-time with a time zone",
            errors=[{"pointer": f"/query/{name}", "message": "not an RFC 3339 date-time"}],
        )
    return parsed


def _quote_public(quote: order_ops.Quote) -> dict[str, Any]:
    body = quote.public()
    # Percentages render like the catalog's ("-5.00"), so a quote and the catalog agree.
    body["discountPercent"] = money.format_decimal(quote.price.discount_percent, min_places=2)
    return body


@endpoints.op("quoteOrder", auth="partner", capability=Capability.ORDERS_WRITE, limit="orders")
async def quote_order(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    body = ctx.body
    settings = ctx.state.settings
    async with ctx.state.db.read() as conn:
        quote = await order_ops.quote(
            conn,
            partner=partner,
            sku=body["sku"],
            face_value=Decimal(body["faceValue"]),
            quantity=body["quantity"],
            order_fee=settings.order_fee,
            fee_currency=settings.order_fee_currency,
            now=ctx.state.clock(),
        )
    return Reply(200, _quote_public(quote))


@endpoints.op("createOrder", auth="partner", capability=Capability.ORDERS_WRITE, limit="orders")
async def create_order(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    body = ctx.body
    settings = ctx.state.settings
    face_value = Decimal(body["faceValue"])
    expected = body.get("expectedTotal")
    expected_total = Decimal(expected) if expected is not None else None
    order, created = await order_ops.place_order(
        ctx.state.db,
        partner=partner,
        sku=body["sku"],
        face_value=face_value,
        quantity=body["quantity"],
        reference_id=body["referenceId"],
        expected_total=expected_total,
        request_hash=order_ops.order_request_hash(
            sku=body["sku"],
            face_value=face_value,
            quantity=body["quantity"],
            expected_total=expected_total,
        ),
        actor=ctx.actor,
        request_id=ctx.request_id,
        order_fee=settings.order_fee,
        fee_currency=settings.order_fee_currency,
        now=ctx.state.clock(),
    )
    if created:
        # An in-process worker (sandbox, single-process SQLite) starts fulfilment now instead of
        # at its next poll; separate worker processes pick the job up on their own.
        worker = ctx.state.extras.get("worker")
        if worker is not None:
            worker.wake()
    return Reply(202 if created else 200, order_public(order))


@endpoints.op("listOrders", auth="partner", capability=Capability.ORDERS_READ)
async def list_orders(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    q = ctx.query
    created_from = parse_instant(q.get("from"), "from")
    created_to = parse_instant(q.get("to"), "to")
    async with ctx.state.db.read() as conn:
        page = await order_ops.list_orders(
            conn,
            partner_id=partner.id,
            status=q.get("status"),
            sku=q.get("sku"),
            reference_id=q.get("referenceId"),
            created_from=created_from,
            created_to=created_to,
            limit=q.get("limit", DEFAULT_LIMIT),
            cursor=q.get("cursor"),
        )
    return Reply(
        200, {"data": [order_public(o) for o in page.data], "nextCursor": page.next_cursor}
    )


@endpoints.op("getOrder", auth="partner", capability=Capability.ORDERS_READ)
async def get_order(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    async with ctx.state.db.read() as conn:
        order = await order_ops.get_order(
            conn, order_id=ctx.path["orderId"], partner_id=partner.id, cipher=_cipher(ctx)
        )
    return Reply(200, order_public(order, include_cards=True))


@endpoints.op("getOrderTrail", auth="partner", capability=Capability.ORDERS_READ)
async def get_order_trail(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    async with ctx.state.db.read() as conn:
        trail = await order_ops.order_trail(
            conn, order_id=ctx.path["orderId"], partner_id=partner.id
        )
    return Reply(200, trail.public())
