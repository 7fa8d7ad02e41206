"""Fulfilment against the in-process Bamboo simulator: every scenario trigger, on SQLite and
PostgreSQL. Time is moved with ``clocks.advance`` (server and simulator together), never slept."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from steller_sandbox.state import Simulator
from steller_server.db.engine import Database
from steller_server.db.tables import events, ledger_entries, order_cards, wallets
from steller_server.domain import orders
from steller_server.domain.crypto import Cipher
from steller_server.domain.models import Order
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings

pytestmark = pytest.mark.usefixtures("sim")


async def settle(
    worker: Worker,
    shop,
    order_id: str,
    *,
    step: float = 2.0,  # type: ignore[no-untyped-def]
    limit: float = 120.0,
) -> Order:
    """Run the worker; move time in ``step``s until the order is terminal (at most ``limit``)."""
    waited = 0.0
    await worker.run_until_idle()
    order = await shop.get(order_id)
    while order.status == "processing":
        assert waited < limit, f"order still processing after {waited} s of vendor time"
        shop.clocks.advance(step)
        waited += step
        await worker.run_until_idle()
        order = await shop.get(order_id)
    return order


async def money_of(database: Database, order: Order) -> tuple[int, list[tuple[str, int]]]:
    """(wallet balance, [(ledger type, amount)] for the order)."""
    async with database.read() as conn:
        balance = await conn.scalar(
            select(wallets.c.balance_minor).where(wallets.c.id == order.wallet_id)
        )
        rows = (
            await conn.execute(
                select(ledger_entries.c.type, ledger_entries.c.amount_minor)
                .where(ledger_entries.c.order_id == order.id)
                .order_by(ledger_entries.c.wallet_seq)
            )
        ).all()
    return int(balance or 0), [(r.type, r.amount_minor) for r in rows]


async def terminal_events(database: Database, order_id: str) -> list[str]:
    async with database.read() as conn:
        return list(
            (
                await conn.execute(select(events.c.type).where(events.c.order_id == order_id))
            ).scalars()
        )


async def test_order_completes_with_encrypted_cards_and_one_vendor_order(
    shop,
    make_worker: Callable[..., Worker],
    sim: Simulator,
    database: Database,  # type: ignore[no-untyped-def]
    job_settings: Settings,
) -> None:
    partner = await shop.partner("AMZ-US-50")
    order = await shop.order(partner, "AMZ-US-50", "50.00", quantity=2)
    worker = make_worker()

    await worker.run_until_idle()
    waiting = await shop.get(order.id)
    assert waiting.status == "processing"
    assert waiting.vendor_status in {"Created", "Processing"}
    assert sim.order_count(order.vendor_request_id) == 1

    done = await settle(worker, shop, order.id)

    assert done.status == "completed"
    assert done.quantity_fulfilled == 2
    assert done.vendor_status == "Succeeded"
    vendor_order = sim.find_order(order.vendor_request_id)
    assert vendor_order is not None
    assert done.vendor_order_id == str(vendor_order.order_id)
    # The vendor saw our internal RequestId, never the partner's referenceId.
    assert order.reference_id not in {o.request_id for o in sim.orders.values()}
    assert sim.order_count(order.vendor_request_id) == 1
    async with database.read() as conn:
        stored = (
            (
                await conn.execute(
                    select(order_cards.c.code_encrypted).where(order_cards.c.order_id == order.id)
                )
            )
            .scalars()
            .all()
        )
        cards = await orders.load_cards(
            conn, order_id=order.id, cipher=Cipher(job_settings.effective_secret_key, "cards")
        )
    sold = {c.card_code for line in vendor_order.lines for c in line.cards if c.sold}
    assert {c.code for c in cards} == sold
    assert all(code not in sold for code in stored), "card codes must be encrypted at rest"
    balance, ledger = await money_of(database, order)
    assert ledger == [("debit", -done.total_minor)]
    assert balance == 100_000 - done.total_minor
    assert await terminal_events(database, order.id) == ["order.completed"]


@pytest.mark.parametrize(("sku", "face"), [("SIM-FAIL-10", "10.00"), ("SIM-US-VAR", "13.13")])
async def test_vendor_failure_fails_the_order_with_one_full_refund(
    shop,
    make_worker: Callable[..., Worker],
    database: Database,
    sku: str,
    face: str,  # type: ignore[no-untyped-def]
) -> None:
    partner = await shop.partner(sku)
    order = await shop.order(partner, sku, face, quantity=3)
    worker = make_worker()

    done = await settle(worker, shop, order.id)
    shop.clocks.advance(120)
    await worker.run_until_idle()  # nothing left to do: no second refund

    assert done.status == "failed"
    assert done.refunded_minor == done.total_minor
    balance, ledger = await money_of(database, order)
    assert ledger == [("debit", -done.total_minor), ("refund", done.total_minor)]
    assert balance == 100_000
    assert await terminal_events(database, order.id) == ["order.failed"]


@pytest.mark.parametrize(("sku", "face"), [("SIM-PARTIAL-10", "10.00"), ("SIM-US-VAR", "22.22")])
async def test_partial_delivery_refunds_only_the_unfilled_part(
    shop,
    make_worker: Callable[..., Worker],
    database: Database,
    job_settings: Settings,  # type: ignore[no-untyped-def]
    sku: str,
    face: str,
) -> None:
    partner = await shop.partner(sku)
    order = await shop.order(partner, sku, face, quantity=4)

    done = await settle(make_worker(), shop, order.id)

    assert done.status == "partially_completed"
    assert done.quantity_fulfilled == 2
    assert done.refunded_minor == 2 * done.unit_price_minor
    balance, ledger = await money_of(database, order)
    assert ledger == [("debit", -done.total_minor), ("refund", 2 * done.unit_price_minor)]
    assert balance == 100_000 - 2 * done.unit_price_minor
    async with database.read() as conn:
        cards = await orders.load_cards(
            conn, order_id=order.id, cipher=Cipher(job_settings.effective_secret_key, "cards")
        )
    assert len(cards) == 2
    assert await terminal_events(database, order.id) == ["order.partially_completed"]


@pytest.mark.parametrize(("sku", "face"), [("SIM-SLOW-10", "10.00"), ("SIM-US-VAR", "33.33")])
async def test_slow_fulfilment_keeps_polling_then_completes(
    shop,
    make_worker: Callable[..., Worker],
    sku: str,
    face: str,  # type: ignore[no-untyped-def]
) -> None:
    partner = await shop.partner(sku)
    order = await shop.order(partner, sku, face)
    worker = make_worker()
    await worker.run_until_idle()

    shop.clocks.advance(20)
    await worker.run_until_idle()
    pending = await shop.get(order.id)
    assert pending.status == "processing"
    assert pending.vendor_status == "Pending"

    done = await settle(worker, shop, order.id, step=5.0)
    assert done.status == "completed"
    assert done.completed_at is not None
    assert (done.completed_at - order.created_at).total_seconds() >= 30


@pytest.mark.parametrize(
    ("sku", "face"),
    [
        ("SIM-429-10", "10.00"),
        ("SIM-US-VAR", "42.90"),  # 429 "wait 2 seconds"
        ("SIM-503-10", "10.00"),
        ("SIM-US-VAR", "50.30"),  # first checkout 503
        ("SIM-TIMEOUT-10", "10.00"),
        ("SIM-US-VAR", "40.80"),  # created, answer never arrives
    ],
)
async def test_vendor_rate_limits_errors_and_timeouts_still_complete_once(
    shop,
    make_worker: Callable[..., Worker],
    sim: Simulator,
    database: Database,  # type: ignore[no-untyped-def]
    sku: str,
    face: str,
) -> None:
    partner = await shop.partner(sku)
    order = await shop.order(partner, sku, face)

    done = await settle(make_worker(), shop, order.id)

    assert done.status == "completed"
    assert sim.order_count(order.vendor_request_id) == 1
    assert sim.checkout_attempts[order.vendor_request_id] >= 2  # the first attempt did not count
    _, ledger = await money_of(database, order)
    assert ledger == [("debit", -done.total_minor)]


async def test_vendor_rejection_fails_and_refunds(
    shop,
    make_worker: Callable[..., Worker],
    database: Database,
    sim: Simulator,  # type: ignore[no-untyped-def]
) -> None:
    partner = await shop.partner("SIM-US-VAR")
    order = await shop.order(partner, "SIM-US-VAR", "44.44")  # out of stock at the vendor

    done = await settle(make_worker(), shop, order.id)

    assert done.status == "failed"
    assert done.failure_reason is not None
    assert "ProductIsOutOfStock" in done.failure_reason
    assert done.refunded_minor == done.total_minor
    assert sim.order_count(order.vendor_request_id) == 0


async def test_rerunning_a_finished_job_changes_nothing(
    shop,
    make_worker: Callable[..., Worker],
    database: Database,
    sim: Simulator,  # type: ignore[no-untyped-def]
) -> None:
    """At-least-once delivery: a job that runs again after the order finished is a no-op."""
    from steller_server.jobs import fulfilment
    from steller_server.jobs.base import Done

    partner = await shop.partner("SIM-PARTIAL-10")
    order = await shop.order(partner, "SIM-PARTIAL-10", "10.00", quantity=2)
    worker = make_worker()
    done = await settle(worker, shop, order.id)
    job = await shop.job(order.id)

    from steller_server.domain.models import Job

    again = await fulfilment.run(Job.from_row(job), worker.context)

    assert again == Done()
    after = await shop.get(order.id)
    assert (after.status, after.refunded_minor) == (done.status, done.refunded_minor)
    assert sim.order_count(order.vendor_request_id) == 1
    async with database.read() as conn:
        refunds = await conn.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.order_id == order.id, ledger_entries.c.type == "refund")
        )
    assert refunds == 1


async def test_resubmitting_after_a_lost_answer_fetches_the_existing_vendor_order(
    shop,
    make_worker: Callable[..., Worker],
    sim: Simulator,
    vendor,  # type: ignore[no-untyped-def]
) -> None:
    """A crash after Bamboo accepted the checkout but before we recorded it: the next run
    submits the same RequestId, Bamboo answers OrderAlreadyExists, the client fetches it."""
    partner = await shop.partner("AMZ-US-25")
    order = await shop.order(partner, "AMZ-US-25", "25.00")
    from steller_server.vendor import OrderLine

    product = sim.catalog.by_sku["AMZ-US-25"]
    await vendor.place_order(
        order.vendor_request_id, account_id=1001, lines=[OrderLine(product.id, 1, Decimal(25))]
    )  # "the lost answer"

    done = await settle(make_worker(), shop, order.id)

    assert done.status == "completed"
    assert sim.order_count(order.vendor_request_id) == 1
    assert sim.checkout_attempts[order.vendor_request_id] == 2
