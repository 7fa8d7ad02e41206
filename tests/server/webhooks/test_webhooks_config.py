"""Configuring the endpoint: create (secret once), replace, rotate, test event, roles, audit, and
the live-mode URL rules (SSRF) at configuration time."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from steller_server.app import create_app
from steller_server.db.tables import audit_log
from steller_server.domain import ssrf
from steller_server.domain.serialize import iso
from tests.server.api.contract_check import assert_conforms

URL = "https://hooks.acme.example/steller"


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Resolve test host names from a table (unknown names: real DNS)."""
    table: dict[str, list[str]] = {"hooks.acme.example": ["93.184.216.34"]}
    real = ssrf.resolve_host

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        return await real(host, port)

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    return table


@pytest.fixture
async def live_api(settings, database, clock):
    """The same app in live mode."""
    application = create_app(settings.replace(mode="live"), database=database, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_create_shows_the_secret_once_then_replaces_without_it(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    database,
    public_dns,
) -> None:
    partner, _ = await factory.partner()
    headers = {"x-api-key": await partner_key(partner)}
    empty = await api.get("/api/partner/webhook", headers=headers)
    assert_conforms(empty, "getWebhookEndpoint")
    assert empty.json()["status"] == "not_configured"
    assert empty.json()["url"] is None

    created = await api.put("/api/partner/webhook", json={"url": URL}, headers=headers)
    assert_conforms(created, "putWebhookEndpoint")
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["enabled"] is True
    assert body["status"] == "active"
    assert len(body["eventTypes"]) == 7  # default: every type

    shown = await api.get("/api/partner/webhook", headers=headers)
    assert "secret" not in shown.json()
    assert shown.json()["url"] == URL

    replaced = await api.put(
        "/api/partner/webhook",
        json={"url": URL, "enabled": False, "eventTypes": ["order.failed"]},
        headers=headers,
    )
    assert_conforms(replaced, "putWebhookEndpoint")
    assert replaced.status_code == 200
    assert "secret" not in replaced.json()
    assert replaced.json()["enabled"] is False
    assert replaced.json()["eventTypes"] == ["order.failed"]

    async with database.read() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.sequence))).mappings()
        entries = [r for r in rows if r["target_type"] == "webhook_endpoint"]
    assert [e["action"] for e in entries] == ["webhook_endpoint.create", "webhook_endpoint.update"]
    assert entries[1]["before"]["enabled"] is True
    assert entries[1]["after"]["enabled"] is False
    assert all(e["actor"] == f"partner:{partner.id}" for e in entries)
    assert body["secret"] not in str([dict(e) for e in entries])  # never audited


async def test_rotate_and_test_need_an_endpoint_and_a_developer_key(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    clock,
    public_dns,
) -> None:
    partner, _ = await factory.partner()
    headers = {"x-api-key": await partner_key(partner)}
    for path in ("/api/partner/webhook/rotate-secret", "/api/partner/webhook/test"):
        missing = await api.post(path, headers=headers)
        assert missing.status_code == 409
        assert missing.json()["code"] == "invalid_state"

    finance = {"x-api-key": await partner_key(partner, role="finance")}
    for method, path in (
        ("GET", "/api/partner/webhook"),
        ("PUT", "/api/partner/webhook"),
        ("GET", "/api/partner/webhook/events"),
        ("POST", "/api/partner/webhook/test"),
    ):
        kwargs = {"json": {"url": URL}} if method == "PUT" else {}
        denied = await api.request(method, path, headers=finance, **kwargs)
        assert denied.status_code == 403
        assert denied.json()["code"] == "insufficient_role"

    await api.put("/api/partner/webhook", json={"url": URL}, headers=headers)
    rotated = await api.post("/api/partner/webhook/rotate-secret", headers=headers)
    assert_conforms(rotated, "rotateWebhookSecret")
    expires = iso(clock() + timedelta(hours=24))  # the default grace
    assert rotated.json()["previousSecretExpiresAt"] == expires
    shown = (await api.get("/api/partner/webhook", headers=headers)).json()
    assert shown["secretRotationEndsAt"] == expires

    now_only = await api.post(
        "/api/partner/webhook/rotate-secret", json={"gracePeriodHours": 0}, headers=headers
    )
    assert now_only.status_code == 200
    shown = (await api.get("/api/partner/webhook", headers=headers)).json()
    assert shown["secretRotationEndsAt"] is None

    queued = await api.post("/api/partner/webhook/test", headers=headers)
    assert_conforms(queued, "sendTestWebhook")
    assert queued.status_code == 202
    body = queued.json()
    assert body["type"] == "webhook.test"
    assert body["data"] == {"message": "This is a test event from Steller."}
    assert body["deliveryStatus"] == "pending"
    assert body["attempts"] == []


async def test_sandbox_allows_http_localhost(api: httpx.AsyncClient, factory, partner_key) -> None:
    partner, _ = await factory.partner()
    headers = {"x-api-key": await partner_key(partner)}
    for url in ("http://localhost:3000/hooks", "http://127.0.0.1:8080/x"):
        response = await api.put("/api/partner/webhook", json={"url": url}, headers=headers)
        assert response.status_code in (200, 201), response.text


REFUSED_IN_LIVE = [
    "http://hooks.acme.example/steller",  # http in live mode
    "http://127.0.0.1/hooks",
    "http://10.0.0.5/hooks",
    "http://169.254.169.254/latest/meta-data",
    "https://127.0.0.1/hooks",
    "https://10.0.0.5/hooks",
    "https://192.168.1.10/hooks",
    "https://172.20.0.1/hooks",
    "https://100.64.0.7/hooks",  # CGNAT
    "https://169.254.169.254/latest/meta-data",
    "https://[fd00:ec2::254]/latest",
    "https://[::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://224.0.0.1/hooks",
    "https://0.0.0.0/hooks",
    "https://localhost/hooks",  # a name that resolves to loopback
    "https://user:pw@hooks.acme.example/steller",
    "ftp://hooks.acme.example/steller",
]


async def test_live_mode_refuses_non_public_targets(
    live_api: httpx.AsyncClient,
    factory,
    partner_key,
    public_dns,
) -> None:
    partner, _ = await factory.partner()
    headers = {"x-api-key": await partner_key(partner)}
    for url in REFUSED_IN_LIVE:
        response = await live_api.put("/api/partner/webhook", json={"url": url}, headers=headers)
        assert_conforms(response, "putWebhookEndpoint")
        assert response.status_code == 422, url
        assert response.json()["code"] == "webhook_url_not_allowed", url
    shown = await live_api.get("/api/partner/webhook", headers=headers)
    assert shown.json()["status"] == "not_configured"


async def test_live_mode_refuses_a_name_with_any_private_address(
    live_api: httpx.AsyncClient,
    factory,
    partner_key,
    public_dns,
) -> None:
    partner, _ = await factory.partner()
    headers = {"x-api-key": await partner_key(partner)}
    ok = await live_api.put("/api/partner/webhook", json={"url": URL}, headers=headers)
    assert ok.status_code == 201
    public_dns["hooks.acme.example"] = ["93.184.216.34", "10.1.2.3"]
    refused = await live_api.put("/api/partner/webhook", json={"url": URL}, headers=headers)
    assert refused.status_code == 422
    assert "10.1.2.3" in refused.json()["detail"]
