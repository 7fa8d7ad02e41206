"""Admin alerts reach people: a forced reconciliation mismatch gives one alert, one email and one
signed admin webhook; repeats come only while it stays open; acknowledging stops them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from steller.webhooks import WebhookSignatureError, generate_secret, verify
from steller_server.db.engine import Database
from steller_server.db.tables import ledger_entries
from steller_server.domain import alerts, jobs
from steller_server.jobs.reconciliation import start_and_reconcile
from steller_server.jobs.registry import OPS_CHECK
from steller_server.settings import Settings
from tests.server.observability.conftest import SmtpServer
from tests.server.webhooks.webhook_support import Receiver


async def tamper_ledger(database: Database, wallet_id: str) -> None:
    """Change a ledger row behind the append-only trigger's back (as tests/server/api does)."""
    async with database.write() as conn:
        if database.is_postgres:
            await conn.execute(
                text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
            )
        else:
            await conn.execute(text("DROP TRIGGER ledger_entries_no_update"))
        try:
            await conn.execute(
                update(ledger_entries)
                .where(ledger_entries.c.wallet_id == wallet_id)
                .values(
                    amount_minor=ledger_entries.c.amount_minor - 2500,
                    balance_after_minor=ledger_entries.c.balance_after_minor - 2500,
                )
            )
        finally:
            if database.is_postgres:
                await conn.execute(
                    text("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
                )


@pytest.fixture
def receiver() -> Any:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


async def test_a_reconciliation_mismatch_is_notified_once_repeated_while_open_and_stopped_by_ack(
    factory: Any,
    smtp: SmtpServer,
    receiver: Receiver,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
    clocks: Any,
) -> None:
    secret = generate_secret()
    settings = (
        smtp.settings(obs_settings)
        .replace(
            alert_emails=("oncall@steller.test", "finance@steller.test"),
            alert_webhook_url=receiver.url("/alerts"),
            alert_webhook_secret=secret,
            alert_repeat_hours=1,
        )
        .validate()
    )
    _, victim = await factory.partner(name="Victim", balance="447.50")
    await tamper_ledger(database, victim.id)
    worker = worker_for(settings)

    async def reconcile() -> None:
        await start_and_reconcile(database, None, settings=settings, clock=clocks)
        await worker.run_until_idle()

    async def ops_check() -> None:
        async with database.write() as conn:
            await jobs.enqueue(conn, kind=OPS_CHECK, payload={}, now=clocks())
        await worker.run_until_idle()

    await reconcile()
    async with database.read() as conn:
        [alert] = (await alerts.list_alerts(conn, kind="wallet_drift")).data
    assert alert.status == "open"
    assert len(smtp.inbox.messages) == 1
    mail = smtp.inbox.messages[0]
    assert sorted(mail["to"]) == ["finance@steller.test", "oncall@steller.test"]
    assert "critical" in mail["message"]["subject"]
    assert victim.id in smtp.inbox.texts()[0]
    assert len(receiver.requests) == 1
    delivery = receiver.requests[0]
    assert delivery.path == "/alerts"
    event = verify(delivery.body, delivery.headers, secret, now=clocks())
    body = json.loads(delivery.body)
    assert body["type"] == "alert.opened"
    assert body["data"]["id"] == alert.id
    assert body["data"]["kind"] == "wallet_drift"
    assert event.id == delivery.headers["webhook-id"]
    with pytest.raises(WebhookSignatureError):  # another secret does not verify
        verify(delivery.body, delivery.headers, generate_secret(), now=clocks())

    # Found again: the alert is bumped, nobody is told twice.
    clocks.advance(15 * 60)
    await reconcile()
    await ops_check()
    async with database.read() as conn:
        assert (await alerts.get_alert(conn, alert_id=alert.id)).occurrences == 2
    assert (len(smtp.inbox.messages), len(receiver.requests)) == (1, 1)

    # Still open an hour after it was first seen: one reminder per hour, on both channels.
    clocks.advance(50 * 60)
    await ops_check()
    await ops_check()
    assert (len(smtp.inbox.messages), len(receiver.requests)) == (2, 2)
    assert json.loads(receiver.requests[1].body)["type"] == "alert.reminder"
    assert "still open" in smtp.inbox.messages[1]["message"]["subject"]

    async with database.write() as conn:
        await alerts.acknowledge(conn, alert_id=alert.id, user_id="usr_oncall", now=clocks())
    clocks.advance(3 * 3600)
    await reconcile()
    await ops_check()
    assert (len(smtp.inbox.messages), len(receiver.requests)) == (2, 2)


async def test_a_failing_admin_webhook_is_retried_without_resending_the_email(
    factory: Any,
    smtp: SmtpServer,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
    clocks: Any,
) -> None:
    receiver = Receiver(plan=[503])
    secret = generate_secret()
    try:
        settings = smtp.settings(obs_settings).replace(
            alert_emails=("oncall@steller.test",),
            alert_webhook_url=receiver.url(),
            alert_webhook_secret=secret,
        )
        _, victim = await factory.partner(name="Victim", balance="447.50")
        await tamper_ledger(database, victim.id)
        worker = worker_for(settings)
        await start_and_reconcile(database, None, settings=settings, clock=clocks)
        await worker.run_until_idle()
        assert len(receiver.requests) == 1  # 503: the job comes back later
        clocks.advance(timedelta(minutes=1).total_seconds())
        await worker.run_until_idle()
    finally:
        receiver.close()
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # same notification
    verify(second.body, second.headers, secret, now=clocks())
    assert len(smtp.inbox.messages) == 1
