"""Fulfilment of one order (job kind ``fulfilment``, payload ``{"orderId": "ord_…"}``).

    fence     begin_vendor_submission (committed): stop here if the order is no longer processing
    submit    Bamboo checkout under the order's internal ``vendor_request_id`` (a UUID, never the
              partner's referenceId). A repeated RequestId is answered by the client with the
              existing vendor order (OrderAlreadyExists → Get Order), so a resumed job never creates
              a second vendor order.
    poll      Get Order until Succeeded / Failed / PartialFailed, rescheduling with backoff
              (``Later``); the vendor callback makes the job due at once.
    finish    complete_order: cards stored encrypted, completed / partially_completed (unfilled
              part refunded) / failed (full refund); the domain emits the one terminal event. The
              transition is a guarded UPDATE, so a job run twice cannot finish (or refund) twice.

Transient vendor trouble (429, 5xx, timeouts after the client's own retries) reschedules with
backoff — the order still completes once Bamboo answers. Rejections at checkout fail the order with
a full refund, except operational ones (our vendor account is short of money, disabled…), which are
retried for ``OPERATIONAL_GIVE_UP`` before failing. Orders that stay processing are found by
reconciliation (``stuck_order``), which makes their job due again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from steller_server.db.tables import products
from steller_server.domain import money, orders
from steller_server.domain.crypto import Cipher
from steller_server.domain.errors import InvalidState, NotFound
from steller_server.domain.models import Card, Job, Order
from steller_server.jobs.base import Done, JobContext, Later, Outcome, Retry
from steller_server.vendor import (
    BambooClient,
    OrderLine,
    VendorAuthError,
    VendorError,
    VendorOrder,
    VendorOrderNotFound,
    VendorRateLimited,
    VendorRejected,
    VendorUnavailable,
)

__all__ = ["OPERATIONAL_REJECTIONS", "poll_delay", "resolve_account_id", "run"]

log = logging.getLogger("steller.fulfilment")

#: Checkout rejections caused by our own vendor account, not by the order: retried for a while.
OPERATIONAL_REJECTIONS = frozenset(
    {"InsufficientBalance", "WrongAccount", "UserNotEnabled", "ClientCatalogNotExist"}
)
OPERATIONAL_GIVE_UP = timedelta(hours=1)
POLL_FIRST = 1.0
POLL_MAX = 60.0
TRANSIENT_FIRST = 5.0
TRANSIENT_MAX = 300.0
REJECTED = "Rejected"


def poll_delay(polls: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at a minute."""
    return timedelta(seconds=min(POLL_FIRST * 2 ** min(polls, 16), POLL_MAX))


def _transient_delay(count: int, retry_after: float | None = None) -> timedelta:
    backoff = min(TRANSIENT_FIRST * 2 ** min(count, 16), TRANSIENT_MAX)
    if retry_after is not None:
        backoff = max(backoff if count else 0.0, retry_after)
    return timedelta(seconds=max(backoff, 0.5))


async def resolve_account_id(ctx: JobContext, vendor: BambooClient) -> int:
    """The Bamboo AccountId to charge: ``STELLER_BAMBOO_ACCOUNT_ID``, else the first active
    account in the vendor's list (cached for the worker's life)."""
    if ctx.settings.bamboo_account_id is not None:
        return ctx.settings.bamboo_account_id
    cached = ctx.extras.get("vendor_account_id")
    if isinstance(cached, int):
        return cached
    accounts = [a for a in await vendor.get_accounts() if a.is_active]
    if not accounts:
        raise VendorError("the vendor lists no active account")
    chosen = next((a for a in accounts if a.currency == "USD"), accounts[0])
    ctx.extras["vendor_account_id"] = chosen.id
    return chosen.id


async def run(job: Job, ctx: JobContext) -> Outcome:
    order_id = str(job.payload["orderId"])
    vendor: BambooClient | None = ctx.vendor
    if vendor is None:
        return Retry("no vendor client configured (STELLER_BAMBOO_*)")
    now = ctx.clock()
    async with ctx.db.write() as conn:
        order = await orders.begin_vendor_submission(conn, order_id=order_id, now=now)
    if order is None:
        return Done()  # cancelled, or finished by an earlier run of this job
    state: dict[str, Any] = dict(job.payload)
    try:
        if order.vendor_status is None and not state.get("submitted"):
            result = await _submit(ctx, vendor, order)
            if isinstance(result, Done | Later | Retry):
                return result
            vendor_order = result
        else:
            try:
                vendor_order = await vendor.get_order(order.vendor_request_id)
            except VendorOrderNotFound:
                # We never got the checkout through (or it was lost): submit again, same RequestId.
                log.warning(
                    "order %s: vendor does not know %s; submitting again",
                    order.id,
                    order.vendor_request_id,
                )
                result = await _submit(ctx, vendor, order)
                if isinstance(result, Done | Later | Retry):
                    return result
                vendor_order = result
    except VendorRateLimited as exc:
        return _transient(ctx, state, f"vendor rate limited: {exc}", exc.retry_after)
    except VendorUnavailable as exc:
        return _transient(ctx, state, f"vendor unavailable: {exc}", None)
    except VendorAuthError as exc:
        return Retry(f"vendor refused our credentials: {exc}")
    except VendorError as exc:
        return Retry(f"vendor error: {exc}")
    state["submitted"] = True
    state.pop("transient", None)
    if vendor_order is None or not vendor_order.is_final:
        return await _wait(ctx, order, state, vendor_order)
    return await _finish(ctx, order, vendor_order)


async def _submit(
    ctx: JobContext, vendor: BambooClient, order: Order
) -> VendorOrder | Done | Later | Retry | None:
    """Checkout; returns the vendor order (existing RequestId), None (accepted, not fetched yet)
    or the outcome for the job when the vendor refused."""
    async with ctx.db.read() as conn:
        vendor_product_id = await conn.scalar(
            select(products.c.vendor_product_id).where(products.c.sku == order.sku)
        )
    if vendor_product_id is None:
        return await _fail(ctx, order, f"product {order.sku} is no longer in the vendor catalog")
    account_id = await resolve_account_id(ctx, vendor)
    face = money.from_minor(order.face_value_minor, order.face_currency)
    line = OrderLine(product_id=int(vendor_product_id), quantity=order.quantity, value=face)
    try:
        placed = await vendor.place_order(
            order.vendor_request_id, account_id=account_id, lines=[line]
        )
    except VendorRejected as exc:
        return await _rejected(ctx, order, exc.reason_code)
    if isinstance(placed, VendorOrder):
        log.info(
            "order %s: vendor already had %s (%s)", order.id, order.vendor_request_id, placed.status
        )
        return placed
    # Bamboo often finishes quickly: look once now instead of waiting a poll interval. No write
    # marks the accepted checkout: a final answer is stored by _finish, a pending one by _wait,
    # and the job payload says "submitted"; a crash before either resubmits under the same
    # RequestId, which Bamboo answers with the existing order (one write less per order).
    try:
        return await vendor.get_order(order.vendor_request_id)
    except VendorError:
        return None


async def _rejected(ctx: JobContext, order: Order, reason: str) -> Outcome:
    now = ctx.clock()
    if reason in OPERATIONAL_REJECTIONS:
        started = order.vendor_submitted_at or order.created_at
        if now - started < OPERATIONAL_GIVE_UP:
            log.error("order %s: vendor refused with %s (our account); retrying", order.id, reason)
            return Later(now + timedelta(minutes=1))
    return await _fail(ctx, order, f"vendor rejected the order: {reason}", vendor_status=REJECTED)


async def _fail(
    ctx: JobContext, order: Order, reason: str, *, vendor_status: str | None = None
) -> Outcome:
    try:
        async with ctx.db.write() as conn:
            await orders.fail_order(
                conn,
                order_id=order.id,
                reason=reason,
                vendor_status=vendor_status,
                request_id=order.request_id,
                now=ctx.clock(),
            )
    except InvalidState:
        pass  # someone else ended it first
    return Done()


def _transient(
    ctx: JobContext, state: dict[str, Any], error: str, retry_after: float | None
) -> Outcome:
    count = int(state.get("transient", 0))
    state["transient"] = count + 1
    log.warning("order %s: %s (try %d)", state.get("orderId"), error, count + 1)
    return Later(ctx.clock() + _transient_delay(count, retry_after), state)


async def _wait(
    ctx: JobContext, order: Order, state: dict[str, Any], vendor_order: VendorOrder | None
) -> Outcome:
    polls = int(state.get("polls", 0))
    state["polls"] = polls + 1
    if vendor_order is not None and (
        vendor_order.status != order.vendor_status
        or str(vendor_order.order_id) != (order.vendor_order_id or "")
    ):
        async with ctx.db.write() as conn:
            await orders.record_vendor_progress(
                conn,
                order_id=order.id,
                vendor_order_id=str(vendor_order.order_id),
                vendor_status=vendor_order.status[:32],
                now=ctx.clock(),
            )
    return Later(ctx.clock() + poll_delay(polls), state)


def _card(card: Any) -> Card:
    return Card(
        serial_number=card.serial_number or "",
        code=card.card_code or "",
        pin=card.pin or None,
        expires_at=card.expiration,
    )


async def _finish(ctx: JobContext, order: Order, vendor_order: VendorOrder) -> Outcome:
    sold = vendor_order.sold_cards
    if len(sold) > order.quantity:
        # Never store more than was bought; a human must look (reconciliation flags it stuck).
        return Retry(
            f"vendor delivered {len(sold)} cards for an order of {order.quantity}", retry=False
        )
    if any(not card.card_code for card in sold):
        return Retry("vendor returned a sold card without a code")
    cipher = Cipher(ctx.settings.effective_secret_key, "cards")
    try:
        async with ctx.db.write() as conn:
            done = await orders.complete_order(
                conn,
                order_id=order.id,
                cards=[_card(c) for c in sold],
                cipher=cipher,
                vendor_order_id=str(vendor_order.order_id),
                vendor_status=vendor_order.status[:32],
                request_id=order.request_id,
                now=ctx.clock(),
            )
    except (InvalidState, NotFound) as exc:
        log.info("order %s already finished: %s", order.id, exc)
        return Done()
    log.info(
        "order %s %s: %d/%d cards (vendor %s, charged %s)",
        order.id,
        done.status,
        len(sold),
        order.quantity,
        vendor_order.status,
        format(Decimal(vendor_order.total), "f"),
    )
    return Done()
