"""Orders: acceptance (price → debit → order → fulfilment job, all or nothing), the state machine
and refunds that can never happen twice.

States: ``processing`` → ``completed`` | ``partially_completed`` | ``failed`` | ``cancelled``.
Every transition is ONE conditional ``UPDATE … WHERE status = 'processing'`` (a second attempt finds
no row and raises :class:`InvalidState`), followed in the same transaction by its refund (if any)
and exactly one ``order.*`` event.

Refunds (:func:`refund_order`) are capped by a conditional update
``refunded_minor + :x <= total_minor``, by the table's CHECK, and by the unique ledger
``entry_key`` ``refund:{order_id}:{kind}`` (kinds: ``failed``, ``cancelled``, ``unfilled``,
``admin``), so the same refund cannot be posted twice even by racing workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.dialect import insert_ignore
from steller_server.db.driver import DriverStatement
from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.db.tables import (
    ledger_entries,
    order_cards,
    orders,
    partner_products,
    partners,
    products,
    wallets,
)
from steller_server.domain import (
    audit,
    events,
    jobs,
    ledger,
    money,
    placement,
    pricing,
    usage_rollup,
)
from steller_server.domain.audit import canonical_json
from steller_server.domain.clock import utcnow
from steller_server.domain.crypto import Cipher
from steller_server.domain.errors import (
    DomainError,
    InvalidState,
    NotFound,
    PartnerSuspended,
    ProductNotAvailable,
    ReferenceConflict,
    ValidationFailed,
)
from steller_server.domain.ids import new_id, new_vendor_request_id
from steller_server.domain.models import (
    Approval,
    Card,
    LedgerEntry,
    Order,
    Partner,
    Product,
    Wallet,
)
from steller_server.domain.pagination import DEFAULT_LIMIT, Page, fetch_page
from steller_server.domain.serialize import ledger_entry_public, order_public
from steller_server.domain.wallets import note_balance_change
from steller_server.observability import metrics

__all__ = [
    "REFUND_KINDS",
    "OrderTrail",
    "Quote",
    "begin_vendor_submission",
    "cancel_order",
    "complete_order",
    "fail_order",
    "get_order",
    "list_orders",
    "load_cards",
    "mark_failed_and_refund",
    "order_request_hash",
    "order_trail",
    "place_order",
    "quote",
    "record_vendor_progress",
    "refund_order",
    "refund_remaining",
]

REFUND_KINDS = ("failed", "cancelled", "unfilled", "admin")
TERMINAL_EVENT = {
    "completed": "order.completed",
    "partially_completed": "order.partially_completed",
    "failed": "order.failed",
    "cancelled": "order.cancelled",
}


def order_request_hash(
    *, sku: str, face_value: Decimal, quantity: int, expected_total: Decimal | None
) -> str:
    """Fingerprint of an order body (decimals normalised: "50" and "50.00" are the same body)."""

    def norm(value: Decimal | None) -> str | None:
        return None if value is None else format(value.normalize(), "f")

    body = {
        "sku": sku,
        "faceValue": norm(face_value),
        "quantity": quantity,
        "expectedTotal": norm(expected_total),
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


# -- reads --------------------------------------------------------------------------------------


async def get_order(
    conn: AsyncConnection,
    *,
    order_id: str,
    partner_id: str | None = None,
    cipher: Cipher | None = None,
) -> Order:
    """One order; another partner's order is :class:`NotFound` (no leak). ``cipher`` loads cards."""
    query = select(orders).where(orders.c.id == order_id)
    if partner_id is not None:
        query = query.where(orders.c.partner_id == partner_id)
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound("order not found")
    order = Order.from_row(row)
    if cipher is not None and order.status in ("completed", "partially_completed"):
        order = _with_cards(order, await load_cards(conn, order_id=order.id, cipher=cipher))
    return order


def _with_cards(order: Order, cards: Sequence[Card]) -> Order:
    return replace(order, cards=tuple(cards))


async def list_orders(
    conn: AsyncConnection,
    *,
    partner_id: str | None = None,
    status: str | None = None,
    sku: str | None = None,
    reference_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[Order]:
    """Orders newest first (without cards); ``partner_id=None`` lists all (admin)."""
    query = select(orders)
    if partner_id is not None:
        query = query.where(orders.c.partner_id == partner_id)
    if status is not None:
        query = query.where(orders.c.status == status)
    if sku is not None:
        query = query.where(orders.c.sku == sku)
    if reference_id is not None:
        query = query.where(orders.c.reference_id == reference_id)
    if created_from is not None:
        query = query.where(orders.c.created_at >= created_from)
    if created_to is not None:
        query = query.where(orders.c.created_at < created_to)
    return await fetch_page(
        conn,
        query,
        created_col=orders.c.created_at,
        id_col=orders.c.id,
        limit=limit,
        cursor=cursor,
        build=Order.from_row,
    )


async def load_cards(conn: AsyncConnection, *, order_id: str, cipher: Cipher) -> list[Card]:
    rows = (
        await conn.execute(
            select(order_cards)
            .where(order_cards.c.order_id == order_id)
            .order_by(order_cards.c.position)
        )
    ).mappings()
    cards = []
    for row in rows:

        def open_(field: str, value: str | None, position: int = row["position"]) -> str | None:
            if value is None:
                return None
            return cipher.decrypt(value, associated_data=f"{order_id}:{position}:{field}")

        cards.append(
            Card(
                serial_number=open_("serial", row["serial_encrypted"]) or "",
                code=open_("code", row["code_encrypted"]) or "",
                pin=open_("pin", row["pin_encrypted"]),
                expires_at=row["expires_at"],
            )
        )
    return cards


async def _find_by_reference(
    conn: AsyncConnection, partner_id: str, reference_id: str
) -> Order | None:
    row = (
        (
            await conn.execute(
                select(orders).where(
                    orders.c.partner_id == partner_id, orders.c.reference_id == reference_id
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    return Order.from_row(row) if row else None


def _replay(existing: Order, request_hash: str) -> tuple[Order, bool]:
    if existing.request_hash != request_hash:
        raise ReferenceConflict(
            f"referenceId {existing.reference_id!r} was already used for a different order",
            orderId=existing.id,
        )
    return existing, False


_PRODUCT_FIELDS = tuple(f.name for f in fields(Product))
_WALLET_FIELDS = tuple(f.name for f in fields(Wallet))
# The wallet, the product and the partner's approval in ONE statement, built once: the wallet
# row always comes back (None: no wallet), product and approval columns are NULL when unknown.
_CONTEXT = (
    select(
        *(wallets.c[name].label(f"w_{name}") for name in _WALLET_FIELDS),
        *(products.c[name] for name in _PRODUCT_FIELDS),
        partner_products.c.discount_percent,
        partner_products.c.approved_by,
        partner_products.c.approved_at,
    )
    .select_from(
        wallets.outerjoin(products, products.c.sku == bindparam("sku")).outerjoin(
            partner_products,
            (partner_products.c.sku == products.c.sku)
            & (partner_products.c.partner_id == wallets.c.partner_id),
        )
    )
    .where(wallets.c.partner_id == bindparam("partner_id"))
)


async def _pricing_context(
    conn: AsyncConnection, *, partner: Partner, sku: str
) -> tuple[Product | None, Approval | None, Wallet]:
    values = {"sku": sku, "partner_id": partner.id}
    if conn.dialect.name == "postgresql":
        row: Mapping[Any, Any] | None = await _driver(conn, "context", lambda: _CONTEXT).first(
            conn, values
        )
    else:
        row = (await conn.execute(_CONTEXT, values)).mappings().one_or_none()
    if row is None:
        raise NotFound("wallet not found")
    wallet = Wallet(**{name: row[f"w_{name}"] for name in _WALLET_FIELDS})
    if row["sku"] is None:
        return None, None, wallet
    product = Product(**{name: row[name] for name in _PRODUCT_FIELDS})
    approval = None
    if row["discount_percent"] is not None:
        approval = Approval(
            partner_id=partner.id,
            sku=sku,
            discount_percent=row["discount_percent"],
            approved_by=row["approved_by"],
            approved_at=row["approved_at"],
        )
    return product, approval, wallet


async def _fx_for(
    conn: AsyncConnection, product: Product | None, wallet_currency: str, fee_currency: str
) -> pricing.FxTable:
    needed = {wallet_currency, fee_currency}
    if product is not None:
        needed |= {product.face_currency, product.cost_currency}
    if needed == {wallet_currency}:
        return pricing.FxTable()
    return await pricing.FxTable.load(conn)


# -- quote and placement ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Quote:
    price: pricing.Price
    wallet_balance_minor: int
    quoted_at: datetime

    @property
    def sufficient_funds(self) -> bool:
        return self.wallet_balance_minor >= self.price.total_minor

    def public(self) -> dict[str, Any]:
        p, cur = self.price, self.price.currency
        return {
            "sku": p.sku,
            "faceValue": money.format_amount(p.face_value_minor, p.face_currency),
            "faceCurrency": p.face_currency,
            "quantity": p.quantity,
            "unitPrice": money.format_amount(p.unit_price_minor, cur),
            "total": money.format_amount(p.total_minor, cur),
            "currency": cur,
            "discountPercent": money.format_decimal(p.discount_percent),
            "exchangeRate": money.format_decimal(p.exchange_rate, max_places=4),
            "walletBalance": money.format_amount(self.wallet_balance_minor, cur),
            "sufficientFunds": self.sufficient_funds,
            "quotedAt": self.quoted_at.isoformat().replace("+00:00", "Z"),
        }


async def quote(
    conn: AsyncConnection,
    *,
    partner: Partner,
    sku: str,
    face_value: Decimal,
    quantity: int,
    order_fee: Decimal,
    fee_currency: str = "USD",
    now: datetime | None = None,
) -> Quote:
    """What :func:`place_order` would charge now (same read, same price function, same guards)."""
    result, _product, wallet = await _price_now(
        conn,
        partner=partner,
        sku=sku,
        face_value=face_value,
        quantity=quantity,
        order_fee=order_fee,
        fee_currency=fee_currency,
    )
    return Quote(price=result, wallet_balance_minor=wallet.balance_minor, quoted_at=now or utcnow())


async def _price_now(
    conn: AsyncConnection,
    *,
    partner: Partner,
    sku: str,
    face_value: Decimal,
    quantity: int,
    order_fee: Decimal,
    fee_currency: str,
) -> tuple[pricing.Price, Product | None, Wallet]:
    """The price of the order from one read (wallet, product, approval; FX rates only when a
    currency differs), with the product and wallet it was read from. Raises what
    :func:`pricing.price` refuses."""
    product, approval, wallet = await _pricing_context(conn, partner=partner, sku=sku)
    fx = await _fx_for(conn, product, wallet.currency, fee_currency)
    result = pricing.price(
        product=product,
        approval=approval,
        face_value=face_value,
        quantity=quantity,
        wallet_currency=wallet.currency,
        fx=fx,
        order_fee=order_fee,
        fee_currency=fee_currency,
    )
    return result, product, wallet


_INSERT_ORDER: dict[str, Any] = {}
#: Fulfilment retries until it settles: a job never dies of its attempt count.
_FULFILMENT_MAX_ATTEMPTS = 1000


def _insert_order(conn: AsyncConnection) -> Any:
    """``INSERT INTO orders … ON CONFLICT (partner_id, reference_id) DO NOTHING RETURNING id``,
    built once per dialect (values are passed as parameters: building and cache-keying a new
    28-value INSERT per order cost more CPU than running it)."""
    dialect = conn.dialect.name
    stmt = _INSERT_ORDER.get(dialect)
    if stmt is None:
        stmt = _INSERT_ORDER[dialect] = insert_ignore(
            conn, orders, ["partner_id", "reference_id"]
        ).returning(orders.c.id)
    return stmt


@dataclass(frozen=True, kw_only=True, slots=True)
class _Accepted:
    """An order priced, affordable at the time of the read, and ready to be written."""

    row: dict[str, Any]
    wallet: Wallet
    description: str  # its ledger line


async def _accept(
    conn: AsyncConnection,
    *,
    partner: Partner,
    sku: str,
    face_value: Decimal,
    quantity: int,
    reference_id: str,
    expected_total: Decimal | None,
    request_hash: str,
    request_id: str | None,
    order_fee: Decimal,
    fee_currency: str,
    now: datetime,
) -> _Accepted | tuple[Order, bool]:
    """Price the order from one read (wallet, product, approval) and refuse it before anything
    is written when pricing, ``expectedTotal`` or the balance say no — unless ``referenceId``
    was used already: a replay answers the order it replays (``(order, False)``), never today's
    verdict."""
    try:
        result, product, wallet = await _price_now(
            conn,
            partner=partner,
            sku=sku,
            face_value=face_value,
            quantity=quantity,
            order_fee=order_fee,
            fee_currency=fee_currency,
        )
        pricing.check_expected_total(result, expected_total)
        if wallet.balance_minor < result.total_minor:
            raise ledger.insufficient_funds(result.total_minor, wallet.currency)
    except DomainError:
        existing = await _find_by_reference(conn, partner.id, reference_id)
        if existing is not None:
            return _replay(existing, request_hash)
        raise
    if product is None:  # pragma: no cover - price() already refused it
        raise ProductNotAvailable("this product is not available to you")
    row: dict[str, Any] = {
        "id": new_id("ord"),
        "partner_id": partner.id,
        "wallet_id": wallet.id,
        "reference_id": reference_id,
        "request_hash": request_hash,
        "sku": product.sku,
        "product_name": product.name,
        "brand_name": product.brand_name,
        "face_value_minor": result.face_value_minor,
        "face_currency": result.face_currency,
        "quantity": quantity,
        "quantity_fulfilled": 0,
        "unit_price_minor": result.unit_price_minor,
        "total_minor": result.total_minor,
        "refunded_minor": 0,
        "currency": wallet.currency,
        "discount_percent": result.discount_percent,
        "exchange_rate": result.exchange_rate.quantize(Decimal("1e-12")),
        "status": "processing",
        "failure_reason": None,
        "vendor_request_id": new_vendor_request_id(),
        "vendor_order_id": None,
        "vendor_status": None,
        "vendor_submitted_at": None,
        "request_id": request_id,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
    }
    face = money.format_amount(result.face_value_minor, result.face_currency)
    description = f"Order {row['id']}: {quantity} \u00d7 {product.name} {face}"
    return _Accepted(row=row, wallet=wallet, description=description)


async def _replay_of_race(
    conn: AsyncConnection, partner_id: str, reference_id: str, request_hash: str
) -> tuple[Order, bool]:
    # A concurrent request with the same referenceId committed first.
    raced = await _find_by_reference(conn, partner_id, reference_id)
    if raced is None:  # pragma: no cover - the conflicting row is committed
        raise ReferenceConflict("referenceId is being used by another request")
    return _replay(raced, request_hash)


async def place_order(
    db: Database,
    *,
    partner: Partner,
    sku: str,
    face_value: Decimal,
    quantity: int,
    reference_id: str,
    expected_total: Decimal | None = None,
    request_hash: str,
    actor: str,
    request_id: str | None = None,
    order_fee: Decimal,
    fee_currency: str = "USD",
    now: datetime | None = None,
) -> tuple[Order, bool]:
    """Accept an order: ``(order, True)`` when created, ``(existing, False)`` for a replay.

    All or nothing: the price (wallet, product and approval read in one statement),
    ``expectedTotal`` and the balance are checked first, then the order row (``processing``,
    ``INSERT … ON CONFLICT DO NOTHING`` on ``(partner_id, referenceId)``), its fulfilment job,
    the debit with its ledger row, the usage rollup and, when the balance falls below the
    partner's threshold, the low-balance event are written together. On PostgreSQL the write is
    ONE statement (:mod:`steller_server.domain.placement`; no ``BEGIN``/``COMMIT``), on SQLite
    one transaction. Any error (``InsufficientFunds``, ``PriceBelowCost``…) leaves nothing
    written.

    Replays: a ``referenceId`` already used answers the existing order when ``request_hash`` is
    the same and raises :class:`ReferenceConflict` otherwise, whatever the product, price or
    wallet balance are now. The normal path does not look the reference up first: the
    ``ON CONFLICT`` insert detects a replay before any money moves, and when the order is
    refused (e.g. the product became unavailable since) the reference is looked up before that
    error is raised, so a replay is never answered with a refusal.
    """
    if not partner.is_active:
        raise PartnerSuspended("partner is suspended")
    now = now or utcnow()
    terms: dict[str, Any] = {
        "partner": partner,
        "sku": sku,
        "face_value": face_value,
        "quantity": quantity,
        "reference_id": reference_id,
        "expected_total": expected_total,
        "request_hash": request_hash,
        "request_id": request_id,
        "order_fee": order_fee,
        "fee_currency": fee_currency,
        "now": now,
    }
    try:
        if db.is_postgres:
            return await _place_in_one_statement(db, terms, actor=actor)
        async with db.write() as conn:
            accepted = await _accept(conn, **terms)
            if isinstance(accepted, tuple):
                return accepted
            row = accepted.row
            if not await _insert_order_with_job(conn, row, request_id=request_id, now=now):
                return await _replay_of_race(conn, partner.id, reference_id, request_hash)
            entry = await ledger.debit(
                conn,
                wallet_id=accepted.wallet.id,
                amount_minor=row["total_minor"],
                description=accepted.description,
                actor=actor,
                order_id=row["id"],
                entry_key=f"order:{row['id']}",
                request_id=request_id,
                now=now,
            )
            await _note_low_balance(conn, partner, accepted, entry.balance_after_minor)
            await usage_rollup.record_accepted(conn, row)
            return Order.from_row(row), True
    except IntegrityError:
        # Last line of defence for races the ON CONFLICT above cannot see.
        async with db.read() as conn:
            existing = await _find_by_reference(conn, partner.id, reference_id)
        if existing is None:
            raise
        return _replay(existing, request_hash)


async def _place_in_one_statement(
    db: Database, terms: dict[str, Any], *, actor: str
) -> tuple[Order, bool]:
    """PostgreSQL: the pricing read and the placement statement, each atomic on its own, on
    one autocommit connection. When the read shows the order taking the wallet below the
    partner's low-balance threshold, the statement and the threshold check run in one
    transaction instead, so the ``wallet.low_balance`` event commits with the order."""
    partner: Partner = terms["partner"]
    threshold = partner.low_balance_threshold_minor
    async with db.statement() as conn:
        accepted = await _accept(conn, **terms)
        if isinstance(accepted, tuple):
            return accepted
        if accepted.wallet.balance_minor - accepted.row["total_minor"] >= threshold:
            balance_after = await _write_placement(conn, accepted, actor=actor, committed=True)
            if balance_after is None:
                return await _replay_of_race(
                    conn, partner.id, terms["reference_id"], terms["request_hash"]
                )
            if balance_after >= threshold:
                return Order.from_row(accepted.row), True
            # A concurrent order of this wallet spent first: check the threshold now.
            async with db.write() as tx:
                await _note_low_balance(tx, partner, accepted, balance_after)
            return Order.from_row(accepted.row), True
    async with db.write() as conn:
        balance_after = await _write_placement(conn, accepted, actor=actor, committed=False)
        if balance_after is None:
            return await _replay_of_race(
                conn, partner.id, terms["reference_id"], terms["request_hash"]
            )
        await _note_low_balance(conn, partner, accepted, balance_after)
        return Order.from_row(accepted.row), True


async def _write_placement(
    conn: AsyncConnection, accepted: _Accepted, *, actor: str, committed: bool
) -> int | None:
    """Run :func:`placement.statement`: the balance after the debit, or None when the
    ``referenceId`` is taken (nothing written). :class:`InsufficientFunds` when a concurrent
    order spent the money since the read (the balance CHECK refused the debit). ``committed``:
    ``conn`` is in autocommit, so the statement is committed when it returns."""
    row = accepted.row
    params = placement.parameters(
        row,
        job={
            "kind": jobs.FULFILMENT,
            "payload": {"orderId": row["id"]},
            "max_attempts": _FULFILMENT_MAX_ATTEMPTS,
            "dedupe_key": f"fulfilment:{row['id']}",
            "request_id": row["request_id"],
        },
        entry={
            "id": new_id("txn"),
            "description": accepted.description[:500],
            "actor": actor,
            "entry_key": f"order:{row['id']}",
            "request_id": row["request_id"],
        },
        day=usage_rollup.day_of(row["created_at"]),
    )
    try:
        moved = await _driver(conn, "placement", placement.statement).first(conn, params)
    except IntegrityError as exc:
        if placement.is_overdraft(exc):
            raise ledger.insufficient_funds(row["total_minor"], row["currency"]) from exc
        raise
    if moved is None:
        return None
    if committed:
        metrics.ledger_committed("debit", row["currency"], -row["total_minor"])
    else:
        metrics.ledger_posted(conn, "debit", row["currency"], -row["total_minor"])
    return int(moved["balance_minor"])


#: PostgreSQL: the order's two statements, compiled once and run on the psycopg connection.
_DRIVER_STATEMENTS: dict[str, DriverStatement] = {}


def _driver(conn: AsyncConnection, name: str, build: Callable[[], Any]) -> DriverStatement:
    found = _DRIVER_STATEMENTS.get(name)
    if found is None:
        found = _DRIVER_STATEMENTS[name] = DriverStatement(build(), conn.dialect)
    return found


async def _note_low_balance(
    conn: AsyncConnection, partner: Partner, accepted: _Accepted, balance_after: int
) -> None:
    if balance_after < partner.low_balance_threshold_minor:
        await note_balance_change(
            conn,
            partner_id=partner.id,
            wallet_id=accepted.wallet.id,
            balance_minor=balance_after,
            currency=accepted.wallet.currency,
            request_id=accepted.row["request_id"],
            now=accepted.row["created_at"],
        )


async def _insert_order_with_job(
    conn: AsyncConnection, row: dict[str, Any], *, request_id: str | None, now: datetime
) -> bool:
    """SQLite: write the order row and its fulfilment job; False (nothing written) when the
    partner's ``referenceId`` is already taken. The job goes before the debit, which takes the
    wallet row lock held until COMMIT."""
    if (await conn.execute(_insert_order(conn), row)).first() is None:
        return False
    await jobs.enqueue(
        conn,
        kind=jobs.FULFILMENT,
        payload={"orderId": row["id"]},
        dedupe_key=f"fulfilment:{row['id']}",
        request_id=request_id,
        now=now,
        max_attempts=_FULFILMENT_MAX_ATTEMPTS,
    )
    return True


# -- refunds ------------------------------------------------------------------------------------


async def refund_order(
    conn: AsyncConnection,
    *,
    order_id: str,
    amount_minor: int,
    kind: str,
    actor: str,
    reason: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Give ``amount_minor`` back to the order's wallet, at most once per ``kind`` and never more
    than the order total in sum. :class:`InvalidState` when that would be exceeded."""
    if kind not in REFUND_KINDS:
        raise ValueError(f"unknown refund kind {kind!r}")
    if amount_minor <= 0:
        raise ValidationFailed("refund amount must be positive")
    now = now or utcnow()
    row = (
        await conn.execute(
            update(orders)
            .where(
                orders.c.id == order_id,
                orders.c.refunded_minor + amount_minor <= orders.c.total_minor,
            )
            .values(refunded_minor=orders.c.refunded_minor + amount_minor, updated_at=now)
            .returning(orders.c.wallet_id)
        )
    ).one_or_none()
    if row is None:
        exists = await conn.scalar(select(orders.c.id).where(orders.c.id == order_id))
        if exists is None:
            raise NotFound("order not found")
        raise InvalidState("the order has already been refunded")
    return await ledger.refund(
        conn,
        wallet_id=row.wallet_id,
        amount_minor=amount_minor,
        description=f"Refund ({kind}) for order {order_id}: {reason}"[:500],
        actor=actor,
        order_id=order_id,
        entry_key=f"refund:{order_id}:{kind}",
        request_id=request_id,
        now=now,
    )


async def _transition(
    conn: AsyncConnection,
    *,
    order_id: str,
    to: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
    only_unsubmitted: bool = False,
) -> Order:
    query = update(orders).where(orders.c.id == order_id, orders.c.status == "processing")
    if only_unsubmitted:
        query = query.where(orders.c.vendor_submitted_at.is_(None))
    values = {"status": to, "updated_at": now, "completed_at": now, **(extra or {})}
    row = (await conn.execute(query.values(**values).returning(*orders.c))).mappings().one_or_none()
    if row is None:
        current = await conn.scalar(select(orders.c.status).where(orders.c.id == order_id))
        if current is None:
            raise NotFound("order not found")
        if current == "processing" and only_unsubmitted:
            raise InvalidState("the order was already submitted to the vendor")
        raise InvalidState(f"order is {current}; it cannot become {to}")
    return Order.from_row(row)


async def _finish(
    conn: AsyncConnection, *, order: Order, request_id: str | None, now: datetime
) -> Order:
    """Re-read after refunds, emit the one terminal event, nudge the low-balance flag."""
    fresh = await get_order(conn, order_id=order.id)
    await events.record_event(
        conn,
        partner_id=fresh.partner_id,
        event_type=TERMINAL_EVENT[fresh.status],
        data=order_public(fresh),
        order_id=fresh.id,
        request_id=request_id,
        now=now,
    )
    if fresh.refunded_minor:
        await _note_refunded_balance(conn, fresh, request_id=request_id, now=now)
    await usage_rollup.record_finished(conn, before=order, after=fresh)
    return fresh


async def _note_refunded_balance(
    conn: AsyncConnection, order: Order, *, request_id: str | None, now: datetime
) -> None:
    """After a refund to ``order``'s wallet: the low-balance bookkeeping for its new balance."""
    balance = await conn.scalar(
        select(wallets.c.balance_minor).where(wallets.c.id == order.wallet_id)
    )
    await note_balance_change(
        conn,
        partner_id=order.partner_id,
        wallet_id=order.wallet_id,
        balance_minor=int(balance or 0),
        currency=order.currency,
        request_id=request_id,
        now=now,
    )


async def _cancel_pending_fulfilment(conn: AsyncConnection, order_id: str, now: datetime) -> None:
    await conn.execute(
        update(jobs_table)
        .where(
            jobs_table.c.dedupe_key == f"fulfilment:{order_id}", jobs_table.c.status == "pending"
        )
        .values(status="done", last_error="order no longer processing", updated_at=now)
    )


# -- transitions --------------------------------------------------------------------------------


async def fail_order(
    conn: AsyncConnection,
    *,
    order_id: str,
    reason: str,
    actor: str = "system",
    vendor_status: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Order:
    """``processing`` → ``failed`` and refund everything not yet refunded (in ``conn``)."""
    now = now or utcnow()
    extra: dict[str, Any] = {"failure_reason": reason[:500]}
    if vendor_status is not None:
        extra["vendor_status"] = vendor_status
    order = await _transition(conn, order_id=order_id, to="failed", now=now, extra=extra)
    remaining = order.total_minor - order.refunded_minor
    if remaining > 0:
        await refund_order(
            conn,
            order_id=order_id,
            amount_minor=remaining,
            kind="failed",
            actor=actor,
            reason=reason,
            request_id=request_id,
            now=now,
        )
    await _cancel_pending_fulfilment(conn, order_id, now)
    return await _finish(conn, order=order, request_id=request_id, now=now)


async def complete_order(
    conn: AsyncConnection,
    *,
    order_id: str,
    cards: Sequence[Card],
    cipher: Cipher,
    quantity_fulfilled: int | None = None,
    vendor_order_id: str | None = None,
    vendor_status: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Order:
    """Store the delivered cards (encrypted) and end the order.

    All delivered → ``completed``; some → ``partially_completed`` with the unfilled part refunded
    (``unit price * missing``, once); none → ``failed`` with a full refund.
    """
    now = now or utcnow()
    fulfilled = len(cards) if quantity_fulfilled is None else quantity_fulfilled
    if fulfilled != len(cards):
        raise ValueError("quantity_fulfilled must equal the number of cards")
    if fulfilled == 0:
        return await fail_order(
            conn,
            order_id=order_id,
            reason="the vendor delivered no cards",
            vendor_status=vendor_status,
            request_id=request_id,
            now=now,
        )
    current = await get_order(conn, order_id=order_id)
    if fulfilled > current.quantity:
        raise ValueError(f"{fulfilled} cards for an order of {current.quantity}")
    status = "completed" if fulfilled == current.quantity else "partially_completed"
    extra: dict[str, Any] = {"quantity_fulfilled": fulfilled}
    if vendor_order_id is not None:
        extra["vendor_order_id"] = vendor_order_id
    if vendor_status is not None:
        extra["vendor_status"] = vendor_status
    order = await _transition(conn, order_id=order_id, to=status, now=now, extra=extra)
    await conn.execute(
        order_cards.insert(),
        [
            {
                "order_id": order_id,
                "position": position,
                "serial_encrypted": cipher.encrypt(
                    card.serial_number, associated_data=f"{order_id}:{position}:serial"
                ),
                "code_encrypted": cipher.encrypt(
                    card.code, associated_data=f"{order_id}:{position}:code"
                ),
                "pin_encrypted": None
                if card.pin is None
                else cipher.encrypt(card.pin, associated_data=f"{order_id}:{position}:pin"),
                "expires_at": card.expires_at,
                "created_at": now,
            }
            for position, card in enumerate(cards)
        ],
    )
    missing = order.quantity - fulfilled
    if missing:
        await refund_order(
            conn,
            order_id=order_id,
            amount_minor=order.unit_price_minor * missing,
            kind="unfilled",
            actor="system",
            reason=f"{missing} of {order.quantity} cards not delivered",
            request_id=request_id,
            now=now,
        )
    return await _finish(conn, order=order, request_id=request_id, now=now)


async def cancel_order(
    db: Database,
    *,
    order_id: str,
    actor: str,
    reason: str,
    partner_id: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Order:
    """Cancel a ``processing`` order not yet submitted to the vendor; full refund, event, audit."""
    now = now or utcnow()
    async with db.write() as conn:
        if partner_id is not None:
            await get_order(conn, order_id=order_id, partner_id=partner_id)
        order = await _transition(
            conn,
            order_id=order_id,
            to="cancelled",
            now=now,
            extra={"failure_reason": reason[:500]},
            only_unsubmitted=True,
        )
        await refund_order(
            conn,
            order_id=order_id,
            amount_minor=order.total_minor,
            kind="cancelled",
            actor=actor,
            reason=reason,
            request_id=request_id,
            now=now,
        )
        await _cancel_pending_fulfilment(conn, order_id, now)
        fresh = await _finish(conn, order=order, request_id=request_id, now=now)
        await audit.record(
            conn,
            actor=actor,
            action="order.cancel",
            target_type="order",
            target_id=order_id,
            before={"status": "processing"},
            after={
                "status": fresh.status,
                "refundedAmount": money.format_amount(fresh.refunded_minor, fresh.currency),
            },
            reason=reason,
            request_id=request_id,
            now=now,
        )
        return fresh


async def mark_failed_and_refund(
    db: Database,
    *,
    order_id: str,
    actor: str,
    reason: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Order:
    """Admin: end a stuck ``processing`` order as ``failed`` with a full refund (+ audit
    ``order.mark_failed_and_refund``, the contract's name for it)."""
    now = now or utcnow()
    async with db.write() as conn:
        current = await get_order(conn, order_id=order_id)
        order = await fail_order(
            conn, order_id=order_id, reason=reason, actor=actor, request_id=request_id, now=now
        )
        await audit.record(
            conn,
            actor=actor,
            action="order.mark_failed_and_refund",
            target_type="order",
            target_id=order_id,
            before={
                "status": current.status,
                "refundedAmount": money.format_amount(current.refunded_minor, current.currency),
            },
            after={
                "status": order.status,
                "refundedAmount": money.format_amount(order.refunded_minor, order.currency),
            },
            reason=reason,
            request_id=request_id,
            now=now,
        )
        return order


async def refund_remaining(
    db: Database,
    *,
    order_id: str,
    actor: str,
    reason: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Order:
    """Admin: refund what is left of a completed/partially completed order, exactly once."""
    now = now or utcnow()
    async with db.write() as conn:
        order = await get_order(conn, order_id=order_id)
        if order.status not in ("completed", "partially_completed"):
            raise InvalidState(f"order is {order.status}; only delivered orders can be refunded")
        remaining = order.total_minor - order.refunded_minor
        if remaining <= 0:
            raise InvalidState("the order has already been refunded")
        await refund_order(
            conn,
            order_id=order_id,
            amount_minor=remaining,
            kind="admin",
            actor=actor,
            reason=reason,
            request_id=request_id,
            now=now,
        )
        fresh = await get_order(conn, order_id=order_id)
        await audit.record(
            conn,
            actor=actor,
            action="order.refund",
            target_type="order",
            target_id=order_id,
            before={"refundedAmount": money.format_amount(order.refunded_minor, order.currency)},
            after={"refundedAmount": money.format_amount(fresh.refunded_minor, fresh.currency)},
            reason=reason,
            request_id=request_id,
            now=now,
        )
        await _note_refunded_balance(conn, fresh, request_id=request_id, now=now)
        await usage_rollup.record_refund(conn, order=fresh, amount_minor=remaining)
        return fresh


# -- vendor bookkeeping (used by the fulfilment job) ---------------------------------------------


async def begin_vendor_submission(
    conn: AsyncConnection, *, order_id: str, now: datetime | None = None
) -> Order | None:
    """Fence between cancel and submit: stamp ``vendor_submitted_at`` (first time only) and return
    the order, or None when it is no longer ``processing`` (e.g. cancelled) — then do not submit.
    Commit this before calling the vendor; a resumed job gets the same order (same RequestId)."""
    now = now or utcnow()
    row = (
        (
            await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == "processing")
                .values(
                    vendor_submitted_at=func.coalesce(orders.c.vendor_submitted_at, now),
                    updated_at=now,
                )
                .returning(*orders.c)
            )
        )
        .mappings()
        .one_or_none()
    )
    return Order.from_row(row) if row else None


async def record_vendor_progress(
    conn: AsyncConnection,
    *,
    order_id: str,
    vendor_order_id: str | None = None,
    vendor_status: str | None = None,
    now: datetime | None = None,
) -> None:
    """Remember the vendor's order id / status while the order is still processing."""
    values: dict[str, Any] = {"updated_at": now or utcnow()}
    if vendor_order_id is not None:
        values["vendor_order_id"] = vendor_order_id
    if vendor_status is not None:
        values["vendor_status"] = vendor_status
    await conn.execute(update(orders).where(orders.c.id == order_id).values(**values))


# -- money trail --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderTrail:
    """Everything that happened to the money of one order (the ``OrderTrail`` schema's data)."""

    order: Order
    partner_name: str
    currency: str
    wallet_before_minor: int
    charged_minor: int
    wallet_after_minor: int
    refunds: tuple[LedgerEntry, ...]
    refunded_total_minor: int
    ledger: tuple[LedgerEntry, ...]
    sentence: str

    @property
    def net_charged_minor(self) -> int:
        return self.charged_minor - self.refunded_total_minor

    def public(self) -> dict[str, Any]:
        cur = self.currency
        fmt = money.format_amount
        return {
            "orderId": self.order.id,
            "partnerName": self.partner_name,
            "currency": cur,
            "walletBefore": fmt(self.wallet_before_minor, cur),
            "charged": fmt(self.charged_minor, cur),
            "walletAfter": fmt(self.wallet_after_minor, cur),
            "refunds": [
                {
                    "ledgerEntryId": r.id,
                    "amount": fmt(r.amount_minor, cur),
                    "createdAt": r.created_at.isoformat().replace("+00:00", "Z"),
                    "description": r.description,
                }
                for r in self.refunds
            ],
            "refundedTotal": fmt(self.refunded_total_minor, cur),
            "netCharged": fmt(self.net_charged_minor, cur),
            "ledger": [ledger_entry_public(e) for e in self.ledger],
            "sentence": self.sentence,
        }


async def order_trail(
    conn: AsyncConnection, *, order_id: str, partner_id: str | None = None
) -> OrderTrail:
    """The money trail of an order, with the one-line sentence
    "Partner Acme, wallet was 500.00 USD, bought 1 * Amazon US 50.00, charged 52.50, balance 447.50"
    (refunds, when any, are appended: "; refunded 52.50, balance 500.00")."""
    order = await get_order(conn, order_id=order_id, partner_id=partner_id)
    partner_name = await conn.scalar(
        select(partners.c.name).where(partners.c.id == order.partner_id)
    )
    rows = (
        await conn.execute(
            select(ledger_entries)
            .where(ledger_entries.c.order_id == order_id)
            .order_by(ledger_entries.c.wallet_seq)
        )
    ).mappings()
    entries = tuple(LedgerEntry.from_row(r) for r in rows)
    debit = next((e for e in entries if e.type == "debit"), None)
    if debit is None:  # pragma: no cover - every accepted order has its debit
        raise InvalidState("order has no debit entry")
    refunds = tuple(e for e in entries if e.type == "refund")
    cur = order.currency
    fmt = money.format_amount
    sentence = (
        f"Partner {partner_name}, wallet was {fmt(debit.balance_before_minor, cur)} {cur}, "
        f"bought {order.quantity} \u00d7 {order.product_name} "
        f"{fmt(order.face_value_minor, order.face_currency)}, "
        f"charged {fmt(-debit.amount_minor, cur)}, balance {fmt(debit.balance_after_minor, cur)}"
    )
    for refund_entry in refunds:
        sentence += (
            f"; refunded {fmt(refund_entry.amount_minor, cur)}, "
            f"balance {fmt(refund_entry.balance_after_minor, cur)}"
        )
    return OrderTrail(
        order=order,
        partner_name=str(partner_name),
        currency=cur,
        wallet_before_minor=debit.balance_before_minor,
        charged_minor=-debit.amount_minor,
        wallet_after_minor=debit.balance_after_minor,
        refunds=refunds,
        refunded_total_minor=sum(r.amount_minor for r in refunds),
        ledger=entries,
        sentence=sentence,
    )
