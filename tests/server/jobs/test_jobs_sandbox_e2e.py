"""Sandbox mode end to end, in process: the sandbox app (API + in-process worker + simulator)
with its demo data, a public signup, an admin funding, a catalog read, an order that the worker
fulfils through the simulator, and the money trail.

Each step goes over HTTP when its route is implemented, and through the same domain call
otherwise (the partner/admin routes are written in parallel); the assertions do not change.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from steller_sandbox import SimulatorConfig
from steller_server.api.contract import Contract
from steller_server.db.engine import Database
from steller_server.db.tables import api_keys, ledger_entries, partners, wallets
from steller_server.domain import admins, catalog, keys, orders
from steller_server.domain import partners as partners_domain
from steller_server.domain import wallets as wallets_domain
from steller_server.domain.crypto import Cipher
from steller_server.domain.models import Order
from steller_server.sandbox_mode import Sandbox, build_sandbox, demo_api_key, running
from steller_server.settings import Settings
from steller_server.vendor import BambooLimits
from tests.server.api.admin_kit import cheap_password_hashing

__all__ = ["cheap_password_hashing"]  # autouse fixture: argon2 at minimal cost in these tests


def make_sandbox(
    settings: Settings, database: Database, contract: Contract, **kwargs: Any
) -> Sandbox:
    return build_sandbox(
        settings,
        database=database,
        contract=contract,
        simulator_config=SimulatorConfig(latency=0.2, limits_enabled=False, tick_interval=0.02),
        worker_poll_interval=0.02,
        vendor_options={"limits": BambooLimits(enabled=False)},
        **kwargs,
    )


def has_route(sandbox: Sandbox, operation_id: str) -> bool:
    return any(getattr(r, "name", None) == operation_id for r in sandbox.app.routes)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Poll ``check`` until true (bounded): waits for a condition, not for a fixed time."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the condition lives in the database
            await asyncio.sleep(0.02)


async def test_sandbox_signup_fund_order_complete_and_trail(
    settings: Settings, database: Database, contract: Contract
) -> None:
    sandbox = make_sandbox(settings, database, contract)
    async with running(sandbox) as client:
        demo = sandbox.demo
        assert demo is not None
        assert demo.catalog_products > 300
        assert demo.api_key.startswith("stlr_test_")
        assert demo.balance == "1000.00 USD"
        assert demo.approved > 100

        # 1. Public signup (sandbox: trial credit + the sandbox catalog approved by the domain).
        email = f"shop-{secrets.token_hex(3)}@example.com"
        if has_route(sandbox, "signup"):
            r = await client.post("/api/public/signup", json={"name": "Shop", "email": email})
            assert r.status_code == 201, r.text
            partner_id = r.json()["partner"]["id"]
            api_key = r.json()["apiKey"]["key"]
        else:
            result = await partners_domain.signup(
                database, name="Shop", email=email, settings=sandbox.settings
            )
            partner_id, api_key = result.partner.id, result.api_key.raw

        # 2. An admin funds the wallet with 250.00.
        admin_email = demo.admin_email
        if has_route(sandbox, "adminCreditPartnerWallet") and has_route(sandbox, "adminLogin"):
            r = await client.post(
                "/api/admin/login", json={"email": admin_email, "password": demo.admin_password}
            )
            assert r.status_code == 200, r.text
            token = r.json()["token"]
            r = await client.post(
                f"/api/admin/partners/{partner_id}/wallet/credit",
                headers={"Authorization": f"Bearer {token}"},
                json={"amount": "250.00", "reason": "Onboarding"},
            )
            assert r.status_code in (200, 201), r.text
        else:
            login = await admins.login(
                database,
                email=admin_email,
                password=demo.admin_password or "",
                secret_key=sandbox.settings.effective_secret_key,
                ttl=timedelta(hours=1),
            )
            assert login is not None
            await wallets_domain.admin_credit(
                database,
                partner_id=partner_id,
                amount_minor=25_000,
                reason="Onboarding",
                actor=f"admin:{login.user.id}",
            )

        # 3. The partner reads its catalog: AMZ-US-50 is there.
        headers = {"x-api-key": api_key}
        if has_route(sandbox, "getCatalog"):
            r = await client.get("/api/brand/getCatalog", headers=headers, params={"limit": 200})
            assert r.status_code == 200, r.text
            skus: set[str] = set()
            page = r.json()
            while True:
                skus |= {p["sku"] for p in page["data"]}
                if not page["nextCursor"]:
                    break
                page = (
                    await client.get(
                        "/api/brand/getCatalog",
                        headers=headers,
                        params={"limit": 200, "cursor": page["nextCursor"]},
                    )
                ).json()
        else:
            async with database.read() as conn:
                skus = {a.sku for a in await partners_catalog(conn, partner_id)}
        assert {"AMZ-US-50", "SIM-OK-10"} <= skus

        # 4. Quote, then order two Amazon US 50 cards.
        async with database.read() as conn:
            partner = await partners_domain.get_partner(conn, partner_id=partner_id)
            quote = await orders.quote(
                conn,
                partner=partner,
                sku="AMZ-US-50",
                face_value=Decimal("50.00"),
                quantity=2,
                order_fee=sandbox.settings.order_fee,
            )
            before = await conn.scalar(
                select(wallets.c.balance_minor).where(wallets.c.partner_id == partner_id)
            )
        assert before == 125_000  # 1000.00 trial + 250.00 funding
        if has_route(sandbox, "createOrder"):
            r = await client.post(
                "/api/orders",
                headers=headers,
                json={
                    "sku": "AMZ-US-50",
                    "faceValue": "50.00",
                    "quantity": 2,
                    "referenceId": "first-order",
                },
            )
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "processing"
            order_id = r.json()["id"]
        else:
            order, _ = await orders.place_order(
                database,
                partner=partner,
                sku="AMZ-US-50",
                face_value=Decimal("50.00"),
                quantity=2,
                reference_id="first-order",
                request_hash=orders.order_request_hash(
                    sku="AMZ-US-50", face_value=Decimal("50.00"), quantity=2, expected_total=None
                ),
                actor=f"partner:{partner_id}",
                order_fee=sandbox.settings.order_fee,
            )
            order_id = order.id

        # 5. The in-process worker fulfils it through the simulator.
        async def completed() -> bool:
            async with database.read() as conn:
                return (await orders.get_order(conn, order_id=order_id)).status != "processing"

        await eventually(completed)
        async with database.read() as conn:
            cipher = Cipher(sandbox.settings.effective_secret_key, "cards")
            done: Order = await orders.get_order(conn, order_id=order_id, cipher=cipher)
            trail = await orders.order_trail(conn, order_id=order_id)
            balance = await conn.scalar(
                select(wallets.c.balance_minor).where(wallets.c.partner_id == partner_id)
            )
            ledger_sum = await conn.scalar(
                select(func.sum(ledger_entries.c.amount_minor)).where(
                    ledger_entries.c.partner_id == partner_id
                )
            )
        assert done.status == "completed"
        assert done.cards is not None
        assert len(done.cards) == 2
        assert all(c.code for c in done.cards)
        assert done.total_minor == quote.price.total_minor
        assert balance == before - quote.price.total_minor == ledger_sum
        total = f"{Decimal(quote.price.total_minor) / 100:.2f}"
        assert trail.sentence == (
            f"Partner Shop, wallet was 1250.00 USD, bought 2 \u00d7 {done.product_name} 50.00, "
            f"charged {total}, balance {Decimal(balance) / 100:.2f}"
        )
        if has_route(sandbox, "getOrder"):
            r = await client.get(f"/api/orders/{order_id}", headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "completed"
        assert sandbox.simulator.order_count(done.vendor_request_id) == 1


async def partners_catalog(conn: Any, partner_id: str) -> list[Any]:
    return await catalog.list_approvals(conn, partner_id=partner_id)


async def test_sandbox_restart_keeps_the_same_demo_data_and_key(
    settings: Settings, database: Database, contract: Contract
) -> None:
    first = make_sandbox(settings, database, contract, in_process_worker=False)
    async with running(first):
        assert first.demo is not None
        key = first.demo.api_key
    second = make_sandbox(settings, database, contract, in_process_worker=False)
    async with running(second):
        assert second.demo is not None
        assert second.demo.api_key == key == demo_api_key(second.settings)
        assert second.demo.partner.id == first.demo.partner.id
        assert second.demo.balance == "1000.00 USD"  # funded once, not twice
        assert not second.demo.admin_created

    async with database.read() as conn:
        found = await keys.authenticate(
            conn, raw_key=key, secret_key=second.settings.effective_secret_key
        )
        demo_partners = await conn.scalar(select(func.count()).select_from(partners))
        demo_keys = await conn.scalar(select(func.count()).select_from(api_keys))
    assert found is not None
    assert found.partner.id == first.demo.partner.id
    assert (demo_partners, demo_keys) == (1, 1)


async def test_sandbox_vendor_callback_reaches_the_api_and_wakes_the_worker(
    settings: Settings, database: Database, contract: Contract
) -> None:
    """The simulator posts its order callback to our notification route (in process); with a
    long poll interval, only the callback can get the order finished quickly."""
    sandbox = build_sandbox(
        settings,
        database=database,
        contract=contract,
        simulator_config=SimulatorConfig(latency=1.0, limits_enabled=False, tick_interval=0.02),
        worker_poll_interval=30.0,
        vendor_options={"limits": BambooLimits(enabled=False)},
    )
    async with running(sandbox):
        assert sandbox.demo is not None
        partner = sandbox.demo.partner
        order, _ = await orders.place_order(
            database,
            partner=partner,
            sku="SIM-OK-10",
            face_value=Decimal("10.00"),
            quantity=1,
            reference_id="cb-1",
            request_hash="h",
            actor="partner:x",
            order_fee=sandbox.settings.order_fee,
        )
        assert sandbox.worker is not None
        sandbox.worker.wake()

        async def completed() -> bool:
            async with database.read() as conn:
                return (await orders.get_order(conn, order_id=order.id)).status == "completed"

        await eventually(completed, within=10.0)
        log = sandbox.simulator.callback_log
        assert any(
            entry["status_code"] == 204 and entry["body"]["requestId"] == order.vendor_request_id
            for entry in log
        ), log


async def test_signup_in_sandbox_can_order_at_once(
    settings: Settings, database: Database, contract: Contract
) -> None:
    sandbox = make_sandbox(settings, database, contract, in_process_worker=False)
    async with running(sandbox):
        result = await partners_domain.signup(
            database, name="Quick", email="quick@example.com", settings=sandbox.settings
        )
        async with database.read() as conn:
            approvals = await partners_catalog(conn, result.partner.id)
        assert len(approvals) > 100
