"""Operations routes: the Bamboo callback, catalog sync, reconciliation runs, alerts and the vendor
views — over HTTP against the app, with an in-process simulator behind the vendor client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from steller_sandbox.state import Simulator
from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.db.tables import ledger_entries, orders, products
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings
from steller_server.vendor import BambooClient
from tests.server.api.admin_kit import (
    app,
    bearer,
    cheap_password_hashing,
    complete_order,
    place_order,
    staff_token,
)
from tests.server.api.contract_check import assert_conforms
from tests.server.api.ops_kit import sim_vendor, simulator_product

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module

CALLBACK_SECRET = "5a8d1e2c-3f4b-4c6d-9e8f-7a6b5c4d3e2f"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with a callback secret and the simulator's USD account."""
    return settings.replace(bamboo_notification_secret=CALLBACK_SECRET, bamboo_account_id=1001)


@pytest.fixture
async def sim_and_vendor(app: Any) -> AsyncIterator[tuple[Simulator, BambooClient]]:
    async with sim_vendor() as (sim, vendor):
        app.state.steller.extras["vendor"] = vendor
        yield sim, vendor


@pytest.fixture
def worker(
    database: Database,
    settings: Settings,
    clock: Any,
    sim_and_vendor: tuple[Simulator, BambooClient],
) -> Worker:
    return Worker(database, settings, worker_id="ops-test", vendor=sim_and_vendor[1], clock=clock)


# -- the vendor callback ------------------------------------------------------------------------


def notification(request_id: str, secret: str = CALLBACK_SECRET) -> dict[str, Any]:
    return {
        "orderId": 6779294,
        "status": "succeeded",
        "totalCards": 1,
        "createdOn": "2026-11-03T10:15:01.4131483",
        "completedOn": None,
        "secretKey": secret,
        "requestId": request_id,
        "somethingNew": True,
    }


async def test_callback_with_a_bad_secret_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/vendor/bamboo/notification",
        json=notification("0f8a7b6c-5d4e-4f3a-9b2c-1d0e9f8a7b6c", "nope"),
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_vendor_secret"
    assert_conforms(response, "receiveBambooNotification")


async def test_callback_makes_the_orders_fulfilment_job_due_now(
    api: httpx.AsyncClient, database: Database, settings: Settings, factory: Any, clock: Any
) -> None:
    await factory.product()
    partner, _ = await factory.partner(balance="100.00", approve={"AMAZON-US-50": "-5"})
    order = await place_order(database, settings, partner)
    later = clock() + timedelta(minutes=10)
    async with database.write() as conn:  # as if the worker were polling again in 10 minutes
        await conn.execute(
            update(jobs_table)
            .where(jobs_table.c.dedupe_key == f"fulfilment:{order.id}")
            .values(run_at=later)
        )

    response = await api.post(
        "/api/vendor/bamboo/notification", json=notification(order.vendor_request_id.upper())
    )
    unknown = await api.post(
        "/api/vendor/bamboo/notification", json=notification("0f8a7b6c-5d4e-4f3a-9b2c-1d0e9f8a7b6c")
    )

    assert response.status_code == 204, response.text
    assert_conforms(response, "receiveBambooNotification")
    assert unknown.status_code == 204
    async with database.read() as conn:
        run_at = await conn.scalar(
            select(jobs_table.c.run_at).where(jobs_table.c.dedupe_key == f"fulfilment:{order.id}")
        )
    assert run_at <= clock()


async def test_callback_without_a_configured_secret_is_refused(
    api: httpx.AsyncClient, app: Any
) -> None:
    state = app.state.steller
    state.settings = state.settings.replace(bamboo_notification_secret=None)
    response = await api.post("/api/vendor/bamboo/notification", json=notification("x", ""))
    assert response.status_code == 401


# -- catalog sync -------------------------------------------------------------------------------


async def test_catalog_sync_runs_in_the_background_and_records_counts(
    api: httpx.AsyncClient,
    staff_token: Any,
    worker: Worker,
    database: Database,
    sim_and_vendor: tuple[Simulator, BambooClient],
    factory: Any,
) -> None:
    sim, _ = sim_and_vendor
    await factory.product("OLD-GONE-10", vendor_product_id="123")  # no longer sold by Bamboo
    admin = bearer(await staff_token(role="admin"))

    started = await api.post("/api/admin/catalog/sync", headers=admin)
    again = await api.post("/api/admin/catalog/sync", headers=admin)
    support = await api.post(
        "/api/admin/catalog/sync", headers=bearer(await staff_token(role="support"))
    )

    assert started.status_code == 202, started.text
    assert_conforms(started, "adminStartCatalogSync")
    run_id = started.json()["id"]
    assert started.headers["location"] == f"/api/admin/catalog/sync/{run_id}"
    assert started.json()["status"] == "running"
    assert again.status_code == 409
    assert support.status_code == 403

    await worker.run_until_idle()
    finished = await api.get(
        f"/api/admin/catalog/sync/{run_id}", headers=bearer(await staff_token(role="finance"))
    )
    assert finished.status_code == 200
    assert_conforms(finished, "adminGetCatalogSync")
    body = finished.json()
    total = len(sim.catalog.products)
    assert (body["status"], body["trigger"]) == ("succeeded", "admin")
    assert (body["brands"], body["products"], body["created"]) == (
        len(sim.catalog.brands),
        total,
        total,
    )
    assert body["markedUnavailable"] == 1
    assert body["exchangeRates"] >= 4
    async with database.read() as conn:
        gone = (
            await conn.execute(select(products.c.available).where(products.c.sku == "OLD-GONE-10"))
        ).scalar_one()
        oos = (
            await conn.execute(
                select(products.c.stock, products.c.available).where(products.c.sku == "SIM-OOS-10")
            )
        ).one()
        ranged = (
            (await conn.execute(select(products).where(products.c.sku == "AMZ-US-VAR")))
            .mappings()
            .one()
        )
    assert gone is False  # kept, marked unavailable
    assert (oos.stock, oos.available) == (0, True)
    assert ranged["denomination_type"] == "range"
    assert (ranged["min_face_minor"], ranged["max_face_minor"]) == (500, 50_000)
    assert 0 < ranged["cost_min_minor"] <= 500

    # A second sync changes nothing it does not have to.
    second = await api.post("/api/admin/catalog/sync", headers=admin)
    await worker.run_until_idle()
    body = (await api.get(f"/api/admin/catalog/sync/{second.json()['id']}", headers=admin)).json()
    assert (body["created"], body["updated"], body["markedUnavailable"]) == (0, 0, 0)

    missing = await api.get("/api/admin/catalog/sync/syn_doesnotexist1", headers=admin)
    assert missing.status_code == 404


# -- reconciliation and alerts ------------------------------------------------------------------


async def _tamper_ledger(database: Database, wallet_id: str) -> None:
    """Change a ledger row behind the append-only trigger's back (an attacker with SQL)."""
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


async def test_reconciliation_finds_tampered_ledger_and_unknown_vendor_order_once(
    api: httpx.AsyncClient,
    staff_token: Any,
    worker: Worker,
    database: Database,
    settings: Settings,
    factory: Any,
    clock: Any,
    sim_and_vendor: tuple[Simulator, BambooClient],
) -> None:
    _, honest = await factory.partner(name="Honest", balance="100.00")
    _, victim = await factory.partner(name="Victim", balance="447.50")
    await factory.product()
    partner, _ = await factory.partner(balance="100.00", approve={"AMAZON-US-50": "-5"})
    ghost = await place_order(database, settings, partner)
    async with database.write() as conn:  # "completed" without Bamboo ever seeing it
        await conn.execute(
            update(orders)
            .where(orders.c.id == ghost.id)
            .values(vendor_submitted_at=clock() - timedelta(hours=1))
        )
    await complete_order(database, settings, ghost, codes=["CODE-1"])
    await _tamper_ledger(database, victim.id)
    finance = bearer(await staff_token(role="finance"))

    started = await api.post("/api/admin/reconciliation/run", headers=finance)
    assert started.status_code == 202, started.text
    assert_conforms(started, "adminStartReconciliation")
    assert (await api.post("/api/admin/reconciliation/run", headers=finance)).status_code == 409
    await worker.run_until_idle()
    run = await api.get(started.headers["location"], headers=finance)
    assert_conforms(run, "adminGetReconciliation")
    body = run.json()
    assert body["status"] == "succeeded"
    assert body["walletsChecked"] == 3
    assert body["ordersChecked"] == 1
    kinds = {(f["kind"], f["walletId"] or f["orderId"]) for f in body["findings"]}
    assert kinds == {("wallet_drift", victim.id), ("vendor_order_missing", ghost.id)}
    drift = next(f for f in body["findings"] if f["kind"] == "wallet_drift")
    assert drift["message"] == (f"Wallet {victim.id} balance 447.50 USD != ledger sum 422.50 USD")
    assert honest.id not in {f["walletId"] for f in body["findings"]}

    # A second run finds the same problems: the alerts are bumped, not duplicated.
    clock.advance(minutes=15)
    again = await api.post("/api/admin/reconciliation/run", headers=finance)
    await worker.run_until_idle()
    assert again.status_code == 202
    listed = await api.get("/api/admin/alerts", headers=finance, params={"status": "open"})
    assert_conforms(listed, "adminListAlerts")
    alerts = {a["kind"]: a for a in listed.json()["data"]}
    assert set(alerts) == {"wallet_drift", "vendor_order_missing"}
    assert alerts["wallet_drift"]["occurrences"] == 2
    assert alerts["wallet_drift"]["severity"] == "critical"

    support = bearer(await staff_token(role="support"))
    alert_id = alerts["wallet_drift"]["id"]
    acked = await api.post(
        f"/api/admin/alerts/{alert_id}/ack", headers=support, json={"note": "Looking at it"}
    )
    assert acked.status_code == 200, acked.text
    assert_conforms(acked, "adminAckAlert")
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledgedBy"].startswith("usr_")
    twice = await api.post(f"/api/admin/alerts/{alert_id}/ack", headers=support)
    assert twice.status_code == 409
    nothing = await api.post("/api/admin/alerts/alr_doesnotexist1/ack", headers=support)
    assert nothing.status_code == 404
    only_kind = await api.get(
        "/api/admin/alerts", headers=support, params={"kind": "vendor_order_missing"}
    )
    assert [a["kind"] for a in only_kind.json()["data"]] == ["vendor_order_missing"]
    assert (await api.post("/api/admin/reconciliation/run", headers=support)).status_code == 403


async def test_stuck_order_is_flagged_then_resolved_by_fulfilment(
    api: httpx.AsyncClient,
    staff_token: Any,
    worker: Worker,
    database: Database,
    settings: Settings,
    clock: Any,
    factory: Any,
    sim_and_vendor: tuple[Simulator, BambooClient],
) -> None:
    await factory.product(**simulator_product(sim_and_vendor[0], "SIM-OK-10"))
    partner, _ = await factory.partner(balance="50.00", approve={"SIM-OK-10": "-5"})
    order = await place_order(database, settings, partner, sku="SIM-OK-10", face_value="10.00")
    async with database.write() as conn:  # its job died (e.g. an operator cancelled it)
        await conn.execute(
            update(jobs_table)
            .where(jobs_table.c.dedupe_key == f"fulfilment:{order.id}")
            .values(status="failed")
        )
    clock.advance(hours=1)
    admin = bearer(await staff_token(role="admin"))

    first = await api.post("/api/admin/reconciliation/run", headers=admin)
    await worker.run_until_idle()  # reconciliation revives the job; the worker completes it
    run = (await api.get(first.headers["location"], headers=admin)).json()
    assert [f["kind"] for f in run["findings"]] == ["stuck_order"]
    async with database.read() as conn:
        status = await conn.scalar(select(orders.c.status).where(orders.c.id == order.id))
    assert status == "completed"

    second = await api.post("/api/admin/reconciliation/run", headers=admin)
    await worker.run_until_idle()
    assert (await api.get(second.headers["location"], headers=admin)).json()["findings"] == []
    stuck = (
        await api.get("/api/admin/alerts", headers=admin, params={"kind": "stuck_order"})
    ).json()["data"]
    assert [a["status"] for a in stuck] == ["resolved"]


# -- vendor views -------------------------------------------------------------------------------


async def test_vendor_accounts_and_exchange_rates(
    api: httpx.AsyncClient,
    staff_token: Any,
    sim_and_vendor: tuple[Simulator, BambooClient],
) -> None:
    finance = bearer(await staff_token(role="finance"))
    accounts = await api.get("/api/admin/vendor/accounts", headers=finance)
    assert accounts.status_code == 200, accounts.text
    assert_conforms(accounts, "adminListVendorAccounts")
    by_id = {a["id"]: a for a in accounts.json()["data"]}
    assert by_id[1001] == {
        "id": 1001,
        "currency": "USD",
        "balance": "100000.00",
        "isActive": True,
        "sandboxMode": True,
    }

    rates = await api.get(
        "/api/admin/vendor/exchange-rates", headers=finance, params={"base": "EUR"}
    )
    assert rates.status_code == 200, rates.text
    assert_conforms(rates, "adminGetExchangeRates")
    assert rates.json()["baseCurrency"] == "EUR"
    assert {"currency": "USD", "rate": "1.086957"} in rates.json()["rates"]
    cached = await api.get(
        "/api/admin/vendor/exchange-rates", headers=finance, params={"base": "EUR"}
    )
    assert cached.json() == rates.json()

    support = bearer(await staff_token(role="support"))
    assert (await api.get("/api/admin/vendor/accounts", headers=support)).status_code == 403


async def test_vendor_views_answer_503_without_a_vendor(
    api: httpx.AsyncClient, staff_token: Any
) -> None:
    admin = bearer(await staff_token(role="admin"))
    response = await api.get("/api/admin/vendor/accounts", headers=admin)
    assert response.status_code == 503
    assert_conforms(response, "adminListVendorAccounts")
    rates = await api.get("/api/admin/vendor/exchange-rates", headers=admin)
    assert rates.status_code == 503
