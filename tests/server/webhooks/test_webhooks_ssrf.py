"""The SSRF guard: which addresses live webhooks may reach, and the delivery-time re-check that
resolves, checks every address and connects to the checked one (DNS rebinding)."""

from __future__ import annotations

import httpx
import pytest

from steller_server.db.engine import Database
from steller_server.domain import jobs, ssrf, webhooks
from steller_server.jobs.delivery import CONFIG_KEY, DeliveryConfig, WebhookClient
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings
from tests.server.webhooks.webhook_support import Receiver

REFUSED = [
    "127.0.0.1",
    "127.9.9.9",
    "10.0.0.5",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "169.254.1.1",
    "0.0.0.0",
    "224.0.0.251",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.10",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",
    "2002:7f00:1::1",
    "2001:db8::1",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert ssrf.refused_address(address) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert ssrf.refused_address(address) is None


def test_url_rules() -> None:
    assert ssrf.parse_url("https://h.example/x", mode="live").port == 443
    assert ssrf.parse_url("http://localhost:3000/x", mode="sandbox").host == "localhost"
    for url, mode in (
        ("http://h.example/x", "live"),
        ("ftp://h.example", "sandbox"),
        ("https:///nohost", "live"),
        ("https://u:p@h.example/", "live"),
        ("https://h.example:99999/", "live"),
    ):
        with pytest.raises(ssrf.UrlNotAllowed):
            ssrf.parse_url(url, mode=mode)


async def test_live_client_connects_to_the_checked_address_with_the_original_host(
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
) -> None:
    """The guarded transport resolves the name itself and connects to that address; Host stays."""
    seen: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    # Let loopback pass for this one check so the loopback receiver can stand in for a public one.
    real = ssrf.refused_address
    monkeypatch.setattr(
        ssrf, "refused_address", lambda a: None if str(a) == "127.0.0.1" else real(a)
    )
    async with WebhookClient(public_only=True) as client:
        answer = await client.post(
            f"http://hooks.partner.example:{receiver.port}/in", content=b"{}"
        )
    assert answer.status_code == 204
    assert seen == ["hooks.partner.example"]
    assert receiver.requests[0].headers["host"] == f"hooks.partner.example:{receiver.port}"


async def test_delivery_rechecks_dns_and_blocks_a_rebound_name(
    monkeypatch: pytest.MonkeyPatch,
    factory,
    database: Database,
    settings: Settings,
    clock,
    receiver: Receiver,
) -> None:
    dns = {"hooks.partner.example": ["93.184.216.34"]}

    async def resolve(host: str, port: int) -> list[str]:
        return dns[host]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    live = settings.replace(mode="live")
    partner, _ = await factory.partner()
    url = f"https://hooks.partner.example:{receiver.port}/hooks"
    configured = await webhooks.configure_endpoint(
        database,
        partner_id=partner.id,
        url=url,
        mode="live",
        cipher=webhooks.secret_cipher(live.effective_secret_key),
        actor="test",
        now=clock(),
    )
    assert configured.created  # public at configuration time

    dns["hooks.partner.example"] = ["127.0.0.1"]  # ... then the name is rebound to loopback
    event = await webhooks.send_test_event(database, partner_id=partner.id, now=clock())
    worker = Worker(
        database,
        live,
        kinds=[jobs.WEBHOOK_DELIVERY],
        clock=clock,
        extras={CONFIG_KEY: DeliveryConfig(timeout=2.0)},
    )
    await worker.run_until_idle()
    client = worker.context.extras.get("webhook_client")
    assert isinstance(client, WebhookClient)
    assert client.public_only
    await client.aclose()

    assert receiver.requests == []  # no connection was made
    async with database.read() as conn:
        view = await webhooks.get_event(conn, event_id=event.event.id)
    assert view.event.delivery_status == "pending"
    [attempt] = view.attempts
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("blocked:")
    assert "127.0.0.1" in attempt.error


async def test_live_delivery_never_uses_an_unguarded_client(
    factory,
    database: Database,
    settings: Settings,
    clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["10.0.0.9"] if host == "internal.partner.example" else ["93.184.216.34"]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    live = settings.replace(mode="live")
    partner, _ = await factory.partner()
    await webhooks.configure_endpoint(
        database,
        partner_id=partner.id,
        url="https://public.partner.example/h",
        mode="live",
        cipher=webhooks.secret_cipher(live.effective_secret_key),
        actor="test",
        now=clock(),
    )
    async with database.write() as conn:  # simulate a row written before the rules existed
        from steller_server.db.tables import webhook_endpoints

        await conn.execute(
            webhook_endpoints.update().values(url="https://internal.partner.example/h")
        )
    await webhooks.send_test_event(database, partner_id=partner.id, now=clock())

    calls: list[httpx.Request] = []
    plain = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: calls.append(request) or httpx.Response(200))
    )
    worker = Worker(
        database,
        live,
        kinds=[jobs.WEBHOOK_DELIVERY],
        clock=clock,
        webhook_http=plain,
        extras={CONFIG_KEY: DeliveryConfig(timeout=2.0)},
    )
    await worker.run_until_idle()
    await plain.aclose()
    await worker.context.extras["webhook_client"].aclose()
    assert calls == []  # the unguarded client was not used in live mode
    async with database.read() as conn:
        page = await webhooks.list_events(conn, partner_id=partner.id, now=clock())
    [attempt] = page.data[0].attempts
    assert attempt.error is not None
    assert attempt.error.startswith("blocked:")
