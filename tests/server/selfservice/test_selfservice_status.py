"""The status page: live signals, incidents (admin API), uptime from probes with gaps, HTML."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import insert, select

from steller_server.api.status import status_page_routes
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.db.tables import audit_log, events, health_probes, webhook_attempts
from steller_server.domain import jobs, status
from steller_server.domain.ids import new_id
from steller_server.settings import Settings
from tests.server.api.contract_check import assert_conforms
from tests.server.selfservice.conftest import shared_contract

INCIDENT = {
    "title": "Delayed <Amazon> fulfilment",
    "impact": "major",
    "components": ["vendor", "fulfilment"],
    "message": "Amazon US orders take up to 20 minutes.",
}


def _components(body: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in body["components"]}


async def test_all_operational_without_signals(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/status")
    assert response.status_code == 200
    assert_conforms(response, "getStatus")
    body = response.json()
    assert body["status"] == "operational"
    assert _components(body) == dict.fromkeys(
        ("api", "fulfilment", "vendor", "webhooks"), "operational"
    )
    assert body["incidents"] == []
    assert all(
        c["uptime"] == {"last24h": 100.0, "last7d": 100.0, "last30d": 100.0}
        for c in body["components"]
    )
    assert "ratelimit" in response.headers


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(minutes=2), "operational"),
        (timedelta(minutes=10), "degraded"),
        (timedelta(minutes=30), "partial_outage"),
        (timedelta(hours=2), "major_outage"),
    ],
)
async def test_old_pending_fulfilment_jobs_degrade_fulfilment(
    api: httpx.AsyncClient, database: Database, clock: Any, age: timedelta, expected: str
) -> None:
    async with database.write() as conn:
        await jobs.enqueue(
            conn,
            kind=jobs.FULFILMENT,
            payload={"orderId": "ord_x"},
            run_at=clock.now - age,
            now=clock.now - age,
        )
        # A job that is not due yet is no backlog.
        await jobs.enqueue(
            conn,
            kind=jobs.FULFILMENT,
            payload={"orderId": "ord_y"},
            run_at=clock.now + timedelta(hours=1),
            now=clock.now - age,
        )
    body = (await api.get("/api/status")).json()
    assert _components(body)["fulfilment"] == expected
    assert body["status"] == expected
    fulfilment = next(c for c in body["components"] if c["id"] == "fulfilment")
    if expected != "operational":
        assert f"{int(age.total_seconds() // 60)} minutes" in fulfilment["detail"]


async def test_vendor_failures_and_webhook_failures_show(
    api: httpx.AsyncClient, database: Database, clock: Any, factory: Any
) -> None:
    now = clock.now
    async with database.write() as conn:
        for index in range(10):
            job_id = await jobs.enqueue(
                conn,
                kind=jobs.FULFILMENT,
                payload={"n": index},
                run_at=now + timedelta(minutes=5),
                now=now,
            )
            if index < 6:  # 6 of 10 recent vendor calls failed and wait for a retry
                await conn.execute(
                    jobs.jobs.update()
                    .where(jobs.jobs.c.id == job_id)
                    .values(last_error="vendor 503")
                )
            else:
                await conn.execute(
                    jobs.jobs.update().where(jobs.jobs.c.id == job_id).values(status="done")
                )
    partner, _ = await factory.partner()
    async with database.write() as conn:
        event_id = new_id("evt")
        await conn.execute(
            insert(events).values(
                id=event_id,
                partner_id=partner.id,
                type="webhook.test",
                payload={},
                order_id=None,
                delivery_status="pending",
                attempt_count=0,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            insert(webhook_attempts),
            [
                {
                    "id": new_id("att"),
                    "event_id": event_id,
                    "partner_id": partner.id,
                    "url": "https://example.com/hook",
                    "attempted_at": now - timedelta(minutes=1),
                    "status_code": 500 if i < 3 else 200,
                    "latency_ms": 20,
                    "error": None,
                    "success": i >= 3,
                }
                for i in range(10)
            ],
        )
    body = (await api.get("/api/status")).json()
    states = _components(body)
    assert states["vendor"] == "partial_outage"  # 60 % failed
    assert states["webhooks"] == "degraded"  # 30 % failed
    vendor = next(c for c in body["components"] if c["id"] == "vendor")
    assert vendor["detail"] == "6 of 10 recent vendor calls failed"


async def test_incident_lifecycle_on_the_status_page(
    api: httpx.AsyncClient, admin_token: Any, database: Database, clock: Any
) -> None:
    support = {"Authorization": f"Bearer {await admin_token(role='support')}"}
    created = await api.post("/api/admin/incidents", headers=support, json=INCIDENT)
    assert created.status_code == 201, created.text
    assert_conforms(created, "adminCreateIncident")
    incident = created.json()
    assert incident["status"] == "investigating"
    assert incident["components"] == ["fulfilment", "vendor"]
    assert [u["message"] for u in incident["updates"]] == [INCIDENT["message"]]

    page = (await api.get("/api/status")).json()
    assert [i["id"] for i in page["incidents"]] == [incident["id"]]
    assert _components(page) == {
        "api": "operational",
        "fulfilment": "partial_outage",
        "vendor": "partial_outage",
        "webhooks": "operational",
    }
    assert page["status"] == "partial_outage"

    clock.advance(minutes=45)
    resolved = await api.patch(
        f"/api/admin/incidents/{incident['id']}",
        headers=support,
        json={"status": "resolved", "message": "All delayed orders done."},
    )
    assert resolved.status_code == 200
    assert_conforms(resolved, "adminUpdateIncident")
    assert resolved.json()["resolvedAt"] == clock.now.isoformat().replace("+00:00", "Z")
    page = (await api.get("/api/status")).json()
    assert page["status"] == "operational"
    assert page["incidents"][0]["status"] == "resolved"  # still listed for 7 days

    again = await api.patch(
        f"/api/admin/incidents/{incident['id']}", headers=support, json={"message": "late"}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"

    clock.advance(days=7, minutes=1)
    assert (await api.get("/api/status")).json()["incidents"] == []

    async with database.read() as conn:
        actions = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.before, audit_log.c.after)
                .where(audit_log.c.target_id == incident["id"])
                .order_by(audit_log.c.sequence)
            )
        ).all()
    assert [a[0] for a in actions] == ["incident.create", "incident.update"]
    assert actions[1][1] == {"status": "investigating", "impact": "major"}
    assert actions[1][2] == {"status": "resolved", "impact": "major"}


async def test_incident_admin_roles_and_errors(api: httpx.AsyncClient, admin_token: Any) -> None:
    finance = {"Authorization": f"Bearer {await admin_token(role='finance')}"}
    denied = await api.post("/api/admin/incidents", headers=finance, json=INCIDENT)
    assert denied.status_code == 403
    assert_conforms(denied, "adminCreateIncident")
    admin = {"Authorization": f"Bearer {await admin_token(role='admin')}"}
    bad = await api.post(
        "/api/admin/incidents", headers=admin, json={**INCIDENT, "components": ["database"]}
    )
    assert bad.status_code == 400
    missing = await api.patch(
        "/api/admin/incidents/inc_doesnotexist1", headers=admin, json={"message": "x"}
    )
    assert missing.status_code == 404
    assert_conforms(missing, "adminUpdateIncident")
    created = (await api.post("/api/admin/incidents", headers=admin, json=INCIDENT)).json()
    updated = await api.patch(
        f"/api/admin/incidents/{created['id']}",
        headers=admin,
        json={"impact": "critical", "status": "identified", "message": "Vendor queue is stuck."},
    )
    body = updated.json()
    assert (body["status"], body["impact"], len(body["updates"])) == ("identified", "critical", 2)
    page = (await api.get("/api/status")).json()
    assert _components(page)["vendor"] == "major_outage"


# -- uptime ---------------------------------------------------------------------------------------


def test_uptime_counts_gaps_and_failed_probes_as_downtime() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    probes = []
    for minute in range(2880, -1, -1):  # every minute for 48 h …
        if 541 <= minute <= 599:  # … except a 60-minute hole 10 h ago (server down) …
            continue
        probes.append((now - timedelta(minutes=minute), not 100 <= minute <= 129))  # … 30 failed
    day = status.compute_uptime(probes, start=now - timedelta(hours=24), end=now)
    # The probe before the hole vouches for 2 minutes: 58 + 30 minutes down of 1440.
    assert day == 93.88  # 1352 / 1440 = 93.888… rounded down
    # Before the first probe nothing was observed: 7 days are judged on the 48 h there are.
    week = status.compute_uptime(probes, start=now - timedelta(days=7), end=now)
    assert week == 96.94  # 2792 / 2880
    # The naive "ok probes / probes" would have said 98.9 % and ignored the hole.
    assert status.compute_uptime([], start=now - timedelta(days=1), end=now) == 100.0
    # A prober that stopped 10 minutes ago: the last 8 minutes are down.
    stopped = [(now - timedelta(minutes=m), True) for m in range(60, 9, -1)]
    assert status.compute_uptime(stopped, start=now - timedelta(hours=1), end=now) == 86.66  # 52/60


async def test_uptime_on_the_page_comes_from_recorded_probes(
    api: httpx.AsyncClient, database: Database, clock: Any
) -> None:
    now = clock.now
    rows = [
        {
            "component": "vendor",
            "ok": not 100 <= minute <= 129,
            "latency_ms": None,
            "detail": None,
            "checked_at": now - timedelta(minutes=minute),
        }
        for minute in range(2880, -1, -1)
        if not 541 <= minute <= 599
    ]
    async with database.write() as conn:
        await conn.execute(insert(health_probes), rows)
    body = (await api.get("/api/status")).json()
    vendor = next(c for c in body["components"] if c["id"] == "vendor")
    assert vendor["uptime"] == {"last24h": 93.88, "last7d": 96.94, "last30d": 96.94}
    api_component = next(c for c in body["components"] if c["id"] == "api")
    assert api_component["uptime"]["last24h"] == 100.0  # never probed: nothing observed


async def test_record_probe_writes_one_row_per_component_and_minute(
    database: Database, clock: Any
) -> None:
    now = clock.now
    async with database.write() as conn:
        await jobs.enqueue(
            conn,
            kind=jobs.FULFILMENT,
            payload={},
            run_at=now - timedelta(minutes=25),
            now=now - timedelta(minutes=25),
        )
    written = await status.record_probe(database, now)
    assert written == {"api": True, "fulfilment": False, "vendor": True, "webhooks": True}
    assert await status.record_probe(database, now + timedelta(seconds=10)) == {}  # other process
    assert len(await status.record_probe(database, now + timedelta(minutes=1))) == 4
    async with database.read() as conn:
        uptimes = await status.uptime(conn, now=now + timedelta(minutes=2))
    assert uptimes["api"]["last24h"] == 100.0
    assert uptimes["fulfilment"]["last24h"] == 0.0


# -- HTML -----------------------------------------------------------------------------------------


async def test_html_status_page_escapes_and_lists(
    settings: Settings, database: Database, clock: Any, admin_token: Any
) -> None:
    app = create_app(
        settings,
        database=database,
        clock=clock,
        contract=shared_contract(),
        extra_routes=status_page_routes(),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            token = await admin_token(role="admin")
            await client.post(
                "/api/admin/incidents", json=INCIDENT, headers={"Authorization": f"Bearer {token}"}
            )
            page = await client.get("/status")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "ratelimit-policy" in page.headers
    assert "Delayed &lt;Amazon&gt; fulfilment" in page.text
    assert "<Amazon>" not in page.text
    for name in status.COMPONENT_NAMES.values():
        assert name in page.text


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return port


CHROMIUM = shutil.which("chromium")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
async def test_status_page_renders_in_headless_chromium(
    settings: Settings, database: Database, admin_token: Any, free_port: int
) -> None:
    # The incident goes in through the domain; the server runs on its own loop and database pool.
    from steller_server.domain import incidents

    await incidents.create_incident(
        database,
        title="Webhook delays",
        impact="minor",
        components=["webhooks"],
        message="Retrying.",
        actor="admin:usr_test",
    )
    app = create_app(settings, contract=shared_contract(), extra_routes=status_page_routes())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped"
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.05)
        result = await asyncio.to_thread(
            subprocess.run,
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--dump-dom",
                f"http://127.0.0.1:{free_port}/status",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 20)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'id="overall"' in dom
    for name in status.COMPONENT_NAMES.values():
        assert name in dom
    assert "Webhook delays" in dom
    assert "Degraded performance" in dom  # the webhooks row, raised by the open incident
