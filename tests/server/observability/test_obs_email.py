"""Partner emails against a real SMTP server on loopback (aiosmtpd): one low-balance email per
crossing, failure emails with the refund, key changes, SMTP outages retried, the sandbox outbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.db.tables import webhook_endpoints
from steller_server.domain import alerts, jobs, keys, money, wallets
from steller_server.domain import partners as partners_domain
from steller_server.jobs.registry import OPS_CHECK
from steller_server.settings import Settings
from tests.server.observability.conftest import SmtpServer, build_app, free_port
from tests.server.observability.obs_kit import settle

pytestmark = pytest.mark.usefixtures("sim")


async def notify_to(database: Database, partner_id: str, *emails: str, **flags: bool) -> None:
    await partners_domain.update_partner(
        database,
        partner_id=partner_id,
        actor="test",
        notifications={"emails": list(emails), **flags},
    )


async def email_jobs(database: Database) -> list[Any]:
    async with database.read() as conn:
        return list(
            (
                await conn.execute(
                    select(jobs_table).where(jobs_table.c.kind == "email").order_by(jobs_table.c.id)
                )
            ).mappings()
        )


async def test_low_balance_sends_one_email_per_crossing(
    shop: Any,
    factory: Any,
    smtp: SmtpServer,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
    clocks: Any,
) -> None:
    settings = smtp.settings(obs_settings)
    await shop.products("SIM-US-VAR")
    partner, _ = await factory.partner(
        balance="100.00", low_balance_threshold="60.00", approve={"SIM-US-VAR": "-5"}
    )
    await notify_to(database, partner.id, "ops@acme.test", "cfo@acme.test")
    worker = worker_for(settings)

    await shop.order(partner, "SIM-US-VAR", "30.00")  # still above 60
    await worker.run_until_idle()
    assert smtp.inbox.messages == []
    await shop.order(partner, "SIM-US-VAR", "30.00")  # crosses below: one email
    await shop.order(partner, "SIM-US-VAR", "10.00")  # still below: nothing new
    await worker.run_until_idle()
    assert len(smtp.inbox.messages) == 1
    first = smtp.inbox.messages[0]
    assert sorted(first["to"]) == ["cfo@acme.test", "ops@acme.test"]
    assert "low" in first["message"]["subject"].lower()
    text = smtp.inbox.texts()[0]
    assert "Threshold: 60.00 USD" in text
    assert "Projected run-out:" in text
    html = first["message"].get_body(preferencelist=("html",)).get_content()
    assert "<table>" in html

    # Back above re-arms it; the next drop is a new crossing and a new email.
    await wallets.admin_credit(
        database,
        partner_id=partner.id,
        amount_minor=20_000,
        reason="top-up",
        actor="admin:usr_test",
        now=clocks(),
    )
    await worker.run_until_idle()
    assert len(smtp.inbox.messages) == 1
    async with database.read() as conn:
        balance = (await wallets.get_wallet(conn, partner_id=partner.id)).balance_minor
    await wallets.admin_debit(
        database,
        partner_id=partner.id,
        amount_minor=balance - 1_000,
        reason="test drop",
        actor="admin:usr_test",
        now=clocks(),
    )
    await worker.run_until_idle()
    assert len(smtp.inbox.messages) == 2
    assert "Balance: 10.00 USD" in smtp.inbox.texts()[1]


async def test_a_failed_order_email_carries_the_refund_and_respects_the_switch(
    shop: Any,
    smtp: SmtpServer,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
) -> None:
    settings = smtp.settings(obs_settings)
    partner = await shop.partner("SIM-US-VAR", balance="500.00")
    await notify_to(database, partner.id, "ops@acme.test")
    worker = worker_for(settings)

    order = await shop.order(partner, "SIM-US-VAR", "13.13", quantity=2)  # the vendor fails it
    failed = await settle(worker, shop, order.id)
    assert failed.status == "failed"
    refund = money.format_amount(failed.refunded_minor, failed.currency)
    assert len(smtp.inbox.messages) == 1
    message = smtp.inbox.messages[0]["message"]
    assert f"{refund} USD refunded" in message["subject"]
    assert f"Refunded: {refund} USD" in smtp.inbox.texts()[0]
    assert order.id in smtp.inbox.texts()[0]

    await notify_to(database, partner.id, "ops@acme.test", orderFailed=False)
    second = await shop.order(partner, "SIM-US-VAR", "13.13")
    assert (await settle(worker, shop, second.id)).status == "failed"
    assert len(smtp.inbox.messages) == 1


async def test_smtp_down_is_retried_later_not_lost(
    shop: Any,
    factory: Any,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
    partner_key: Any,
    clocks: Any,
) -> None:
    down = SmtpServer()  # its port has no server yet
    settings = down.settings(obs_settings)
    partner, _ = await factory.partner(balance="10.00")
    await notify_to(database, partner.id, "dev@acme.test")
    raw = await partner_key(partner)
    async with database.write() as conn:
        found = await keys.authenticate(
            conn, raw_key=raw, secret_key=settings.effective_secret_key, now=clocks()
        )
        assert found is not None
        rotated = await keys.rotate_key(
            conn,
            key_id=found.key.id,
            partner_id=partner.id,
            secret_key=settings.effective_secret_key,
            grace_period_hours=2,
            now=clocks(),
        )
    worker = worker_for(settings)

    await worker.run_until_idle()
    [job] = await email_jobs(database)
    assert job["status"] == "pending"
    assert job["attempts"] == 1
    assert job["run_at"] > clocks()
    assert job["last_error"].startswith("SMTP: ")

    down.start()
    try:
        clocks.advance((job["run_at"] - clocks()).total_seconds())
        await worker.run_until_idle()
    finally:
        down.stop()
    [job] = await email_jobs(database)
    assert job["status"] == "done"
    assert len(down.inbox.messages) == 1
    text = down.inbox.texts()[0]
    assert "rotated" in down.inbox.messages[0]["message"]["subject"]
    assert rotated.key.id in text
    assert rotated.raw not in text
    assert raw not in text


async def test_sandbox_without_smtp_captures_emails_in_the_outbox(
    obs_api: httpx.AsyncClient,
    factory: Any,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
    partner_key: Any,
    clocks: Any,
    vendor: Any,
    contract: Any,
) -> None:
    assert not obs_settings.smtp_configured
    assert obs_settings.is_sandbox
    acme, _ = await factory.partner(name="Acme", balance="10.00")
    other, _ = await factory.partner(name="Other", balance="10.00")
    await partner_key(acme)
    other_key = await partner_key(other)
    await notify_to(database, acme.id, "dev@acme.test")
    async with database.write() as conn:
        [old] = await keys.list_keys(conn, partner_id=acme.id)
        await keys.revoke_key(conn, key_id=old.id, partner_id=acme.id, now=clocks())
    acme_key = await partner_key(acme)
    await worker_for(obs_settings).run_until_idle()

    everything = await obs_api.get("/sandbox/outbox.json")  # loopback developer
    assert everything.status_code == 200
    [mail] = everything.json()["data"]
    assert mail["to"] == ["dev@acme.test"]
    assert mail["partnerId"] == acme.id
    assert mail["kind"] == "key_revoked"
    assert "revoked" in mail["subject"]
    assert "revoked" in mail["text"]
    assert "<html>" in mail["html"]
    assert (
        await obs_api.get("/sandbox/outbox", params={"format": "json"})
    ).json() == everything.json()
    page = await obs_api.get("/sandbox/outbox")
    assert page.headers["content-type"].startswith("text/html")
    assert mail["subject"].split(" ")[0] in page.text
    mine = await obs_api.get("/sandbox/outbox.json", headers={"x-api-key": acme_key})
    assert [m["id"] for m in mine.json()["data"]] == [mail["id"]]
    theirs = await obs_api.get("/sandbox/outbox.json", headers={"x-api-key": other_key})
    assert theirs.json()["data"] == []

    live = obs_settings.replace(mode="live", secret_key="l" * 40)
    app = build_app(live, database, clocks, vendor, contract)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await client.get("/sandbox/outbox")).status_code == 404


async def test_a_disabled_webhook_endpoint_emails_the_partner_once_and_raises_an_alert(
    obs_api: httpx.AsyncClient,
    factory: Any,
    smtp: SmtpServer,
    obs_settings: Settings,
    worker_for: Any,
    database: Database,
    partner_key: Any,
    clocks: Any,
) -> None:
    settings = smtp.settings(obs_settings)
    partner, _ = await factory.partner(balance="10.00")
    await notify_to(database, partner.id, "dev@acme.test")
    key = await partner_key(partner)
    hook = await obs_api.put(
        "/api/partner/webhook",
        headers={"x-api-key": key},
        json={
            "url": f"http://127.0.0.1:{free_port()}/h",
            "enabled": True,
            "eventTypes": ["order.failed"],
        },
    )
    assert hook.status_code == 201, hook.text
    async with database.write() as conn:  # what record_attempt does after 5 days of failures
        await conn.execute(
            update(webhook_endpoints).values(
                status="disabled",
                disabled_reason="Disabled by Steller after 5 days",
                updated_at=clocks(),
            )
        )
    worker = worker_for(settings)
    for _ in range(2):
        async with database.write() as conn:
            await jobs.enqueue(conn, kind=OPS_CHECK, payload={}, now=clocks())
        await worker.run_until_idle()
        clocks.advance(60)
    assert len(smtp.inbox.messages) == 1
    assert smtp.inbox.messages[0]["to"] == ["dev@acme.test"]
    assert "disabled" in smtp.inbox.messages[0]["message"]["subject"]
    async with database.read() as conn:
        page = await alerts.list_alerts(conn, kind="webhook_endpoint_disabled")
    [alert] = page.data
    assert alert.status == "open"
    assert alert.occurrences == 2
    assert alert.details["partnerId"] == partner.id
