"""GET /metrics: who may scrape, what a scripted journey shows, several processes in one scrape."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from steller_server.api.contract import Contract
from steller_server.db.engine import Database
from steller_server.db.tables import events
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings
from steller_server.vendor import BambooClient
from tests.server.observability.conftest import Clocks, build_app
from tests.server.observability.obs_kit import delta, parse, place, scrape, settle, value
from tests.server.webhooks.webhook_support import Receiver

pytestmark = pytest.mark.usefixtures("sim")


async def test_metrics_need_an_admin_token_or_an_allowed_address(
    obs_api: httpx.AsyncClient,
    admin_token: Any,
    partner_key: Any,
    factory: Any,
    obs_settings: Settings,
    database: Database,
    clocks: Clocks,
    vendor: BambooClient,
    contract: Contract,
) -> None:
    partner, _ = await factory.partner(balance="10.00")
    key = await partner_key(partner)

    anonymous = await obs_api.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    with_key = await obs_api.get("/metrics", headers={"x-api-key": key})
    assert with_key.status_code == 401
    key_as_bearer = await obs_api.get("/metrics", headers={"authorization": f"Bearer {key}"})
    assert key_as_bearer.status_code == 401
    for role in ("support", "finance", "admin"):
        ok = await obs_api.get(
            "/metrics", headers={"authorization": f"Bearer {await admin_token(role)}"}
        )
        assert ok.status_code == 200
        assert "steller_http_requests_total" in ok.text
    assert all(op.path != "/metrics" for op in contract.operations.values())

    # The ASGI test client is 127.0.0.1: allowed by a matching CIDR, not by another one.
    for allow, status in ((("10.0.0.0/8", "127.0.0.0/8"), 200), (("10.0.0.0/8",), 401)):
        app = build_app(
            obs_settings.replace(metrics_allow=allow), database, clocks, vendor, contract
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client,
        ):
            assert (await client.get("/metrics")).status_code == status


async def test_journey_shows_exactly_the_requests_orders_refunds_and_fulfilments(
    obs_api: httpx.AsyncClient,
    shop: Any,
    partner_key: Any,
    admin_token: Any,
    worker_for: Any,
    obs_settings: Settings,
    database: Database,
) -> None:
    partner = await shop.partner("SIM-US-VAR", balance="500.00")
    key = await partner_key(partner)
    token = await admin_token("support")
    receiver = Receiver(plan=[500])  # the first delivery fails, its retry and the rest pass
    hook = await obs_api.put(
        "/api/partner/webhook",
        headers={"x-api-key": key},
        json={
            "url": receiver.url(),
            "enabled": True,
            "eventTypes": ["order.completed", "order.failed"],
        },
    )
    assert hook.status_code == 201, hook.text
    worker: Worker = worker_for(obs_settings)
    before = await scrape(obs_api, token)

    good = await place(obs_api, key, "SIM-US-VAR", "20.00", quantity=2)
    bad = await place(obs_api, key, "SIM-US-VAR", "13.13")  # the simulator fails it
    missing = await obs_api.get("/api/orders/ord_doesnotexist0000000", headers={"x-api-key": key})
    assert missing.status_code == 404
    for _ in range(3):
        assert (
            await obs_api.get(f"/api/orders/{good['id']}", headers={"x-api-key": key})
        ).status_code == 200
    assert (await settle(worker, shop, good["id"])).status == "completed"
    failed = await settle(worker, shop, bad["id"])
    assert failed.status == "failed"
    for _ in range(30):  # the failed delivery's retry (and any put-back job) comes due
        async with database.read() as conn:
            pending = await conn.scalar(
                select(func.count())
                .select_from(events)
                .where(events.c.delivery_status != "delivered")
            )
        if not pending:
            break
        shop.clocks.advance(300)
        await worker.run_until_idle()
    await worker.context.extras["webhook_client"].aclose()
    receiver.close()
    after = await scrape(obs_api, token)

    requests = "steller_http_requests_total"
    assert delta(before, after, requests, method="POST", route="createOrder", status="202") == 2
    assert delta(before, after, requests, method="GET", route="getOrder", status="200") == 3
    assert delta(before, after, requests, method="GET", route="getOrder", status="404") == 1
    # Routes are operationIds or templates, never raw ids.
    assert not any(good["id"] in dict(labels).get("route", "") for _, labels in after)
    assert (
        delta(before, after, "steller_http_request_duration_seconds_count", route="createOrder")
        == 2
    )
    # The scrape before this one is counted under the /metrics template.
    assert delta(before, after, requests, route="/metrics", status="200") == 1

    debit_total = int(good["total"].replace(".", "")) + int(bad["total"].replace(".", ""))
    movements = "steller_wallet_movements_total"
    amounts = "steller_wallet_movement_minor_units_total"
    assert delta(before, after, movements, type="debit", currency="USD") == 2
    assert delta(before, after, amounts, type="debit", currency="USD") == debit_total
    assert delta(before, after, movements, type="refund", currency="USD") == 1
    assert (
        delta(before, after, amounts, type="refund", currency="USD")
        == failed.refunded_minor
        == failed.total_minor
    )

    assert value(after, "steller_orders", status="completed") == 1
    assert value(after, "steller_orders", status="failed") == 1
    assert value(after, "steller_orders", status="processing") == 0
    assert value(after, "steller_jobs", kind="fulfilment") == 0
    assert delta(before, after, "steller_fulfilment_duration_seconds_count") == 2
    assert (
        delta(before, after, "steller_jobs_processed_total", kind="fulfilment", outcome="done") == 2
    )
    assert (
        delta(before, after, "steller_vendor_calls_total", endpoint="checkout", outcome="ok") == 2
    )
    assert (
        delta(before, after, "steller_vendor_call_duration_seconds_count", endpoint="checkout") == 2
    )

    assert len(receiver.requests) == 3
    deliveries = "steller_webhook_deliveries_total"
    assert delta(before, after, deliveries, outcome="delivered") == 2
    assert delta(before, after, deliveries, outcome="failed") == 1
    assert delta(before, after, "steller_webhook_delivery_duration_seconds_count") == 3


async def test_rate_limit_rejections_are_counted_per_policy(
    obs_api: httpx.AsyncClient,
    factory: Any,
    partner_key: Any,
    admin_token: Any,
    database: Database,
) -> None:
    partner, _ = await factory.partner(balance="10.00")
    from sqlalchemy import update

    from steller_server.db.tables import partners

    async with database.write() as conn:
        await conn.execute(
            update(partners).where(partners.c.id == partner.id).values(rate_limit_default=2)
        )
    key = await partner_key(partner)
    token = await admin_token("admin")
    before = await scrape(obs_api, token)
    statuses = [
        (await obs_api.get("/api/wallet/me", headers={"x-api-key": key})).status_code
        for _ in range(8)
    ]
    after = await scrape(obs_api, token)
    rejected = statuses.count(429)
    assert rejected >= 1
    assert delta(before, after, "steller_rate_limited_total", policy="default") == rejected


CHILD = textwrap.dedent("""
    import asyncio, sys
    import httpx
    from steller_server.app import create_app
    from steller_server.settings import Settings

    async def main(url: str, n: int) -> None:
        settings = Settings(mode="sandbox", secret_key="x" * 40).replace(database_url=url)
        app = create_app(settings)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            for _ in range(n):
                assert (await client.get("/api/wallet/me")).status_code == 401

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")

#: A worker process: queues ``n`` emails and runs them (sandbox without SMTP: the outbox).
WORKER_CHILD = textwrap.dedent("""
    import asyncio, sys
    from steller_server.db.engine import Database
    from steller_server.jobs.worker import Worker
    from steller_server.notify import email, templates
    from steller_server.settings import Settings

    async def main(url: str, n: int) -> None:
        settings = Settings(mode="sandbox", secret_key="x" * 40).replace(database_url=url)
        db = Database.from_settings(settings)
        try:
            async with db.write() as conn:
                for _ in range(n):
                    rendered = templates.Rendered("Hello", "Hello", "<p>Hello</p>")
                    await email.enqueue(conn, kind="test", to=["ops@x.test"], rendered=rendered)
            assert await Worker(db, settings, kinds=[email.EMAIL_KIND]).run_until_idle() == n
        finally:
            await db.dispose()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


async def test_two_processes_report_into_one_scrape(
    tmp_path: Path,
    settings: Settings,
    database: Database,
    admin_token: Any,
    monkeypatch: pytest.MonkeyPatch,
    obs_app: Any,
) -> None:
    """Two server and two worker processes write to one PROMETHEUS_MULTIPROC_DIR; a scrape of
    another process shows all four."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    url = settings.database_url
    children = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, url, str(n), env=env)
        for n in (3, 4)
    ]
    assert [await asyncio.wait_for(child.wait(), 120) for child in children] == [0, 0]
    for n in (2, 3):  # one after the other: SQLite has one writer
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER_CHILD, url, str(n), env=env
        )
        assert await asyncio.wait_for(worker.wait(), 120) == 0
    assert len(list(directory.glob("*.db"))) >= 4  # one file set per process

    token = await admin_token("admin")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=obs_app), base_url="http://t"
    ) as client:
        response = await client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    samples = parse(response.text)
    assert value(samples, "steller_http_requests_total", route="getWallet", status="401") == 7
    assert value(samples, "steller_http_request_duration_seconds_count", route="getWallet") == 7
    assert value(samples, "steller_jobs_processed_total", kind="email", outcome="done") == 5
    assert value(samples, "steller_job_duration_seconds_count", kind="email") == 5
