"""Order acceptance, replays, refunds, transitions and the money trail (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from steller_server.db.engine import Database
from steller_server.db.tables import (
    events,
    jobs,
    ledger_entries,
    order_cards,
    order_usage_daily,
    orders,
    wallets,
)
from steller_server.domain import ledger
from steller_server.domain import orders as order_ops
from steller_server.domain.crypto import Cipher
from steller_server.domain.errors import (
    InsufficientFunds,
    InvalidState,
    PartnerSuspended,
    PriceAboveExpectedTotal,
    PriceBelowCost,
    ProductNotAvailable,
    ReferenceConflict,
)
from steller_server.domain.models import Card, Partner
from steller_server.settings import Settings

FEE = Decimal("0.10")


def _hash(
    sku: str = "AMAZON-US-50", face: str = "50.00", quantity: int = 1, expected: str | None = None
) -> str:
    return order_ops.order_request_hash(
        sku=sku,
        face_value=Decimal(face),
        quantity=quantity,
        expected_total=Decimal(expected) if expected else None,
    )


async def _place(
    db: Database,
    partner: Partner,
    ref: str = "ref-1",
    *,
    sku: str = "AMAZON-US-50",
    face: str = "50.00",
    quantity: int = 1,
    expected: str | None = None,
) -> tuple[Any, bool]:
    return await order_ops.place_order(
        db,
        partner=partner,
        sku=sku,
        face_value=Decimal(face),
        quantity=quantity,
        reference_id=ref,
        expected_total=Decimal(expected) if expected else None,
        request_hash=_hash(sku, face, quantity, expected),
        actor=f"partner:{partner.id}",
        request_id="req_test",
        order_fee=FEE,
    )


async def _counts(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        return {
            name: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in {
                "orders": orders,
                "ledger": ledger_entries,
                "jobs": jobs,
                "events": events,
            }.items()
        }


async def _balance(db: Database, wallet_id: str) -> int:
    async with db.read() as conn:
        return int(
            await conn.scalar(select(wallets.c.balance_minor).where(wallets.c.id == wallet_id)) or 0
        )


async def _low_balance_events(db: Database) -> list[dict[str, Any]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(events.c.payload).where(events.c.type == "wallet.low_balance")
        )
        return list(rows.scalars().all())


async def _assert_ledger_matches(db: Database, wallet_id: str) -> None:
    async with db.read() as conn:
        total = await ledger.ledger_sum(conn, wallet_id=wallet_id)
    assert total == await _balance(db, wallet_id)


async def test_worked_example_charges_52_50_and_tells_the_trail(
    database: Database, factory: Any
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(
        name="Acme", balance="500.00", approve={"AMAZON-US-50": "-5"}
    )

    order, created = await _place(database, partner)

    assert created
    assert order.status == "processing"
    assert (order.unit_price_minor, order.total_minor, order.currency) == (5250, 5250, "USD")
    assert await _balance(database, wallet.id) == 44750
    async with database.read() as conn:
        trail = await order_ops.order_trail(conn, order_id=order.id, partner_id=partner.id)
        job = (await conn.execute(select(jobs))).mappings().one()
    assert trail.sentence == (
        "Partner Acme, wallet was 500.00 USD, bought 1 \u00d7 Amazon US "
        "50.00, charged 52.50, balance 447.50"
    )
    public = trail.public()
    assert (public["walletBefore"], public["charged"], public["walletAfter"]) == (
        "500.00",
        "52.50",
        "447.50",
    )
    assert public["ledger"][0]["amount"] == "-52.50"
    assert job["kind"] == "fulfilment"
    assert job["payload"] == {"orderId": order.id}
    await _assert_ledger_matches(database, wallet.id)


async def test_same_reference_same_body_returns_the_order_without_a_second_debit(
    database: Database, factory: Any
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})

    first, created_first = await _place(database, partner, "ref-same")
    again, created_again = await _place(database, partner, "ref-same")

    assert created_first
    assert not created_again
    assert again.id == first.id
    assert await _balance(database, wallet.id) == 44750
    assert (await _counts(database))["orders"] == 1


async def test_a_replay_is_answered_even_when_the_order_could_no_longer_be_placed(
    database: Database, factory: Any
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="60.00", approve={"AMAZON-US-50": "-5"})
    first, _ = await _place(database, partner, "ref-then")
    # Since then: the wallet cannot pay for another, and the product was withdrawn.
    assert await _balance(database, wallet.id) == 750
    again, created = await _place(database, partner, "ref-then")
    assert (again.id, created) == (first.id, False)
    await factory.product(available=False)

    again, created = await _place(database, partner, "ref-then")

    assert (again.id, created) == (first.id, False)
    with pytest.raises(ReferenceConflict):
        await _place(database, partner, "ref-then", quantity=2)
    with pytest.raises(ProductNotAvailable):
        await _place(database, partner, "ref-new")
    assert await _balance(database, wallet.id) == 750
    assert (await _counts(database))["orders"] == 1
    await _assert_ledger_matches(database, wallet.id)


async def test_same_reference_different_body_is_a_conflict(
    database: Database, factory: Any
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})
    await _place(database, partner, "ref-x")

    with pytest.raises(ReferenceConflict):
        await _place(database, partner, "ref-x", quantity=2)
    assert await _balance(database, wallet.id) == 44750


async def test_concurrent_same_reference_creates_one_order(
    database: Database, factory: Any
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})

    results = await asyncio.gather(*[_place(database, partner, "ref-race") for _ in range(20)])

    assert sum(created for _, created in results) == 1
    assert len({order.id for order, _ in results}) == 1
    assert await _balance(database, wallet.id) == 44750
    assert (await _counts(database))["ledger"] == 2  # funding + one debit


async def test_an_order_and_its_fulfilment_job_are_written_together_once(
    database: Database, factory: Any
) -> None:
    # On PostgreSQL the order row and its job are one statement; on SQLite two.
    await factory.product()
    partner, _wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})

    results = await asyncio.gather(*[_place(database, partner, "ref-job") for _ in range(5)])
    again, created_again = await _place(database, partner, "ref-job")

    order = next(order for order, created in results if created)
    assert not created_again
    assert again.id == order.id
    async with database.read() as conn:
        job = (await conn.execute(select(jobs))).mappings().one()
        placed = (await conn.execute(select(orders))).mappings().one()
    assert (job["kind"], job["payload"], job["status"]) == (
        "fulfilment",
        {"orderId": order.id},
        "pending",
    )
    assert (job["attempts"], job["max_attempts"]) == (0, 1000)
    assert (job["dedupe_key"], job["request_id"]) == (f"fulfilment:{order.id}", "req_test")
    assert job["run_at"] == job["created_at"] == job["updated_at"] == placed["created_at"]
    assert (job["locked_by"], job["locked_until"], job["last_error"]) == (None, None, None)


async def test_insufficient_funds_writes_nothing(database: Database, factory: Any) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="52.49", approve={"AMAZON-US-50": "-5"})
    before = await _counts(database)

    with pytest.raises(InsufficientFunds):
        await _place(database, partner)

    assert await _counts(database) == before
    assert await _balance(database, wallet.id) == 5249


async def test_failure_after_the_debit_rolls_everything_back(
    database: Database, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})
    before = await _counts(database)

    real_debit = ledger.debit

    async def debit_then_crash(*args: Any, **kwargs: Any) -> Any:
        await real_debit(*args, **kwargs)
        raise RuntimeError("crash after the debit")

    monkeypatch.setattr(ledger, "debit", debit_then_crash)
    if database.is_postgres:
        # The order is ONE statement there (domain/placement.py): make its last part, the usage
        # rollup upsert after the debit and the ledger row, fail instead (bigint overflow).
        async with database.write() as conn:
            await conn.execute(
                insert(order_usage_daily).values(
                    partner_id=partner.id,
                    day=datetime.now(UTC).date(),
                    sku="AMAZON-US-50",
                    status="processing",
                    order_count=1,
                    total_minor=2**63 - 1,
                    refunded_minor=0,
                )
            )
        with pytest.raises(DBAPIError, match="out of range"):
            await _place(database, partner)
    else:
        with pytest.raises(RuntimeError, match="crash after the debit"):
            await _place(database, partner)

    assert await _counts(database) == before
    assert await _balance(database, wallet.id) == 50000


def _stale_wallet_reads(monkeypatch: pytest.MonkeyPatch, balance_minor: int) -> None:
    """The pricing read sees ``balance_minor`` whatever the wallet holds: as if other orders
    of the wallet committed between the read and the write."""
    real = order_ops._pricing_context

    async def stale(*args: Any, **kwargs: Any) -> Any:
        product, approval, wallet = await real(*args, **kwargs)
        return product, approval, replace(wallet, balance_minor=balance_minor)

    monkeypatch.setattr(order_ops, "_pricing_context", stale)


async def test_money_spent_since_the_pricing_read_is_refused_at_the_write(
    database: Database, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read says 500.00, the wallet holds 52.49 by the time the order is written: the
    # debit's guard (PostgreSQL: the wallets CHECK inside the one statement) refuses it.
    await factory.product()
    partner, wallet = await factory.partner(balance="52.49", approve={"AMAZON-US-50": "-5"})
    before = await _counts(database)
    _stale_wallet_reads(monkeypatch, 50000)

    with pytest.raises(InsufficientFunds, match=r"52\.50 USD"):
        await _place(database, partner)

    assert await _counts(database) == before
    assert await _balance(database, wallet.id) == 5249
    await _assert_ledger_matches(database, wallet.id)


async def test_order_refused_when_price_falls_below_cost(database: Database, factory: Any) -> None:
    await factory.product()
    partner, wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "0"})
    # The vendor raised its price after the approval: 49.95 + 0.10 fee > 50.00.
    await factory.product(cost_min_minor=4995, cost_max_minor=4995)
    before = await _counts(database)

    with pytest.raises(PriceBelowCost):
        await _place(database, partner)
    assert await _counts(database) == before
    assert await _balance(database, wallet.id) == 50000


async def test_expected_total_guard_and_unavailable_products(
    database: Database, factory: Any
) -> None:
    await factory.product()
    await factory.product("NOT-APPROVED")
    partner, _ = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})

    with pytest.raises(PriceAboveExpectedTotal):
        await _place(database, partner, "r1", expected="52.49")
    order, _ = await _place(database, partner, "r2", expected="52.50")
    assert order.total_minor == 5250
    with pytest.raises(ProductNotAvailable):
        await _place(database, partner, "r3", sku="NOT-APPROVED")
    with pytest.raises(ProductNotAvailable):
        await _place(database, partner, "r4", sku="UNKNOWN-SKU")


async def test_suspended_partner_cannot_order(database: Database, factory: Any) -> None:
    await factory.product()
    partner, _ = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})
    with pytest.raises(PartnerSuspended):
        await _place(database, replace(partner, status="suspended"))


async def test_200_concurrent_orders_on_a_wallet_funded_for_100(
    database: Database, factory: Any
) -> None:
    await factory.product()
    partner, wallet = await factory.partner(
        balance=str(Decimal("52.50") * 100), approve={"AMAZON-US-50": "-5"}
    )

    results = await asyncio.gather(
        *[_place(database, partner, f"ref-{i}") for i in range(200)], return_exceptions=True
    )

    accepted = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(accepted) == 100
    assert len(refused) == 100
    assert await _balance(database, wallet.id) == 0
    await _assert_ledger_matches(database, wallet.id)
    counts = await _counts(database)
    assert (counts["orders"], counts["jobs"], counts["ledger"]) == (100, 100, 101)
    async with database.read() as conn:
        seqs = (
            (
                await conn.execute(
                    select(ledger_entries.c.wallet_seq).order_by(ledger_entries.c.wallet_seq)
                )
            )
            .scalars()
            .all()
        )
    assert seqs == list(range(1, 102))


async def _processing_order(
    database: Database, factory: Any, *, quantity: int = 1, balance: str = "500.00"
) -> tuple[Any, Any, Partner]:
    await factory.product()
    partner, wallet = await factory.partner(balance=balance, approve={"AMAZON-US-50": "-5"})
    order, _ = await _place(database, partner, quantity=quantity)
    return order, wallet, partner


def _cards(n: int) -> list[Card]:
    return [Card(serial_number=f"SER-{i}", code=f"CODE-{i}", pin=f"{i:04d}") for i in range(n)]


async def test_complete_stores_encrypted_cards_and_emits_one_event(
    database: Database, factory: Any, settings: Settings
) -> None:
    order, _, _ = await _processing_order(database, factory, quantity=2)
    cipher = Cipher(settings.effective_secret_key)

    async with database.write() as conn:
        done = await order_ops.complete_order(
            conn, order_id=order.id, cards=_cards(2), cipher=cipher, vendor_order_id="6761537"
        )
    assert (done.status, done.quantity_fulfilled, done.refunded_minor) == ("completed", 2, 0)
    async with database.read() as conn:
        stored = (await conn.execute(select(order_cards.c.code_encrypted))).scalars().all()
        with_cards = await order_ops.get_order(conn, order_id=order.id, cipher=cipher)
        emitted = (await conn.execute(select(events.c.type, events.c.payload))).all()
    assert all("CODE" not in value for value in stored)
    assert [c.code for c in with_cards.cards or ()] == ["CODE-0", "CODE-1"]
    assert [(t, p["status"]) for t, p in emitted] == [("order.completed", "completed")]
    assert "cards" not in emitted[0][1]

    async with database.write() as conn:
        with pytest.raises(InvalidState):
            await order_ops.complete_order(conn, order_id=order.id, cards=_cards(2), cipher=cipher)


async def test_partial_delivery_refunds_the_unfilled_part_once(
    database: Database, factory: Any, settings: Settings
) -> None:
    order, wallet, _ = await _processing_order(database, factory, quantity=3)
    cipher = Cipher(settings.effective_secret_key)

    async with database.write() as conn:
        done = await order_ops.complete_order(
            conn, order_id=order.id, cards=_cards(1), cipher=cipher
        )
    assert done.status == "partially_completed"
    assert done.refunded_minor == 2 * 5250
    assert await _balance(database, wallet.id) == 50000 - 5250
    with pytest.raises(InvalidState):
        async with database.write() as conn:
            await order_ops.refund_order(
                conn,
                order_id=order.id,
                amount_minor=1,
                kind="unfilled",
                actor="system",
                reason="again",
            )
    async with database.read() as conn:
        trail = await order_ops.order_trail(conn, order_id=order.id)
    assert trail.refunded_total_minor == 10500
    assert trail.sentence.endswith("; refunded 105.00, balance 447.50")
    await _assert_ledger_matches(database, wallet.id)


async def test_failed_order_is_refunded_in_full(database: Database, factory: Any) -> None:
    order, wallet, _ = await _processing_order(database, factory)

    failed = await order_ops.mark_failed_and_refund(
        database, order_id=order.id, actor="admin:usr_1", reason="stuck"
    )
    assert (failed.status, failed.refunded_minor) == ("failed", 5250)
    assert await _balance(database, wallet.id) == 50000
    with pytest.raises(InvalidState):
        await order_ops.mark_failed_and_refund(
            database, order_id=order.id, actor="admin:usr_1", reason="again"
        )
    assert await _balance(database, wallet.id) == 50000


async def test_cancel_only_before_vendor_submission(database: Database, factory: Any) -> None:
    order, wallet, partner = await _processing_order(database, factory)
    async with database.write() as conn:
        submitted = await order_ops.begin_vendor_submission(conn, order_id=order.id)
    assert submitted is not None
    assert submitted.vendor_submitted_at is not None
    with pytest.raises(InvalidState):
        await order_ops.cancel_order(
            database, order_id=order.id, actor="admin:usr_1", reason="customer asked"
        )

    second, _ = await _place(database, partner, "ref-2")
    cancelled = await order_ops.cancel_order(
        database, order_id=second.id, actor="admin:usr_1", reason="customer asked"
    )
    assert (cancelled.status, cancelled.refunded_minor) == ("cancelled", 5250)
    async with database.write() as conn:
        assert await order_ops.begin_vendor_submission(conn, order_id=second.id) is None
        job_status = await conn.scalar(
            select(jobs.c.status).where(jobs.c.dedupe_key == f"fulfilment:{second.id}")
        )
    assert job_status == "done"
    assert await _balance(database, wallet.id) == 50000 - 5250


async def test_concurrent_admin_refunds_refund_exactly_once(
    database: Database, factory: Any, settings: Settings
) -> None:
    order, wallet, _ = await _processing_order(database, factory)
    async with database.write() as conn:
        await order_ops.complete_order(
            conn, order_id=order.id, cards=_cards(1), cipher=Cipher(settings.effective_secret_key)
        )

    results = await asyncio.gather(
        *[
            order_ops.refund_remaining(
                database, order_id=order.id, actor="admin:usr_1", reason="goodwill"
            )
            for _ in range(10)
        ],
        return_exceptions=True,
    )

    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(isinstance(r, InvalidState) for r in results if isinstance(r, BaseException))
    assert await _balance(database, wallet.id) == 50000
    async with database.read() as conn:
        refunds = await conn.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.type == "refund")
        )
    assert refunds == 1


async def test_low_balance_event_fires_once_when_crossing(database: Database, factory: Any) -> None:
    await factory.product()
    partner, _ = await factory.partner(
        balance="200.00", approve={"AMAZON-US-50": "-5"}, low_balance_threshold="100.00"
    )
    for i in range(3):  # 147.50, 95.00 (crosses), 42.50
        await _place(database, partner, f"lb-{i}")
    lows = await _low_balance_events(database)
    assert len(lows) == 1
    assert (lows[0]["balance"], lows[0]["threshold"]) == ("95.00", "100.00")


async def test_low_balance_event_fires_when_a_concurrent_order_crossed_first(
    database: Database, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read promises 500.00 (no crossing), the wallet holds 147.50: the order leaves 95.00,
    # below the threshold, and the event still fires, once.
    await factory.product()
    partner, _ = await factory.partner(
        balance="147.50", approve={"AMAZON-US-50": "-5"}, low_balance_threshold="100.00"
    )
    _stale_wallet_reads(monkeypatch, 50000)
    await _place(database, partner, "lb-0")
    await _place(database, partner, "lb-1")  # 42.50: still below, no second event
    lows = await _low_balance_events(database)
    assert [(e["balance"], e["threshold"]) for e in lows] == [("95.00", "100.00")]
