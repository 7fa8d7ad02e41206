"""wallet.low_balance fires once per downward crossing of the threshold, from order debits too,
and is re-armed only when the balance recovers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from steller_server.db.engine import Database
from steller_server.domain import jobs, partners, wallets, webhooks
from steller_server.jobs.worker import Worker
from tests.server.webhooks.webhook_support import place_order, schema_errors

SKU = "AMAZON-US-50"  # 50.00 at -5 % → 52.50


async def _low_balance_events(database: Database, partner_id: str, clock) -> list[dict]:
    async with database.read() as conn:
        page = await webhooks.list_events(
            conn, partner_id=partner_id, event_type="wallet.low_balance", now=clock()
        )
    return [v.event.payload for v in reversed(page.data)]


async def test_low_balance_fires_once_per_crossing(
    factory,
    database: Database,
    settings,
    clock,
) -> None:
    await factory.product(SKU)
    partner, wallet = await factory.partner(
        balance="130.00", approve={SKU: "-5"}, low_balance_threshold="100.00"
    )
    await place_order(database, settings, partner, now=clock())  # 130.00 → 77.50: crosses
    [event] = await _low_balance_events(database, partner.id, clock)
    assert event == {
        "walletId": wallet.id,
        "balance": "77.50",
        "threshold": "100.00",
        "currency": "USD",
        "averageDailySpend": "1.75",  # 52.50 over 30 days
        "projectedRunOutDate": (clock().date() + timedelta(days=44)).isoformat(),
    }
    assert not schema_errors(event, "WalletLowBalanceData")

    await place_order(database, settings, partner, now=clock())  # 77.50 → 25.00: still below
    assert len(await _low_balance_events(database, partner.id, clock)) == 1

    await wallets.admin_credit(
        database,
        partner_id=partner.id,
        amount_minor=20000,
        reason="top-up",
        actor="admin:usr_test",
        now=clock(),
    )  # 225.00
    assert len(await _low_balance_events(database, partner.id, clock)) == 1
    await place_order(database, settings, partner, now=clock())  # 172.50
    await place_order(database, settings, partner, now=clock())  # 120.00
    assert len(await _low_balance_events(database, partner.id, clock)) == 1
    clock.advance(seconds=1)
    await place_order(database, settings, partner, now=clock())  # 67.50: crosses again
    events = await _low_balance_events(database, partner.id, clock)
    assert [e["balance"] for e in events] == ["77.50", "67.50"]


async def test_a_raised_threshold_is_checked_by_the_low_balance_job(
    factory,
    database: Database,
    settings,
    clock,
) -> None:
    """Changing the threshold enqueues the check itself (in the same transaction): a threshold
    raised above the balance is a crossing too, and a duplicate check adds no event."""
    partner, _wallet = await factory.partner(balance="150.00", low_balance_threshold="100.00")
    await partners.update_partner(
        database,
        partner_id=partner.id,
        actor="admin:usr_test",
        low_balance_threshold=Decimal("200.00"),
        now=clock(),
    )
    async with database.write() as conn:
        await jobs.enqueue(
            conn, kind=jobs.LOW_BALANCE_CHECK, payload={"partnerId": partner.id}, now=clock()
        )
    worker = Worker(database, settings, kinds=[jobs.LOW_BALANCE_CHECK], clock=clock)
    assert await worker.run_until_idle() == 2  # the update's check and the extra one
    [event] = await _low_balance_events(database, partner.id, clock)  # two checks, one event
    assert (event["balance"], event["threshold"]) == ("150.00", "200.00")
    assert event["projectedRunOutDate"] is None  # nothing spent yet


async def test_threshold_changes_over_the_api_fire_and_re_arm_low_balance(
    api,
    factory,
    partner_key,
    database: Database,
    settings,
    clock,
) -> None:
    partner, _wallet = await factory.partner(balance="150.00", low_balance_threshold="100.00")
    headers = {"x-api-key": await partner_key(partner)}
    worker = Worker(database, settings, kinds=[jobs.LOW_BALANCE_CHECK], clock=clock)

    async def set_threshold(value: str) -> None:
        changed = await api.patch(
            "/api/partner/me", json={"lowBalanceThreshold": value}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        assert await worker.run_until_idle() == 1

    await set_threshold("200.00")  # above the balance: crosses
    await set_threshold("250.00")  # still below: no second event
    assert [e["threshold"] for e in await _low_balance_events(database, partner.id, clock)] == [
        "200.00"
    ]
    await set_threshold("50.00")  # back under the balance: re-armed, no event
    clock.advance(seconds=1)
    await set_threshold("175.00")  # crosses again
    events = await _low_balance_events(database, partner.id, clock)
    assert [(e["balance"], e["threshold"]) for e in events] == [
        ("150.00", "200.00"),
        ("150.00", "175.00"),
    ]

    renamed = await api.patch("/api/partner/me", json={"name": "Renamed"}, headers=headers)
    assert renamed.status_code == 200
    assert await worker.run_until_idle() == 0  # no threshold change, no check
