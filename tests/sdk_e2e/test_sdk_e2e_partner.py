"""The partner journey through the SDK, in process against the real sandbox app (API, fulfilment
worker, Bamboo simulator): signup → catalog → quote → order (fulfilled by the worker) → get, list,
trail → wallet, ledger, CSV export → webhook endpoint, signed deliveries, events → keys, rotation
→ usage, statements, request logs.

The sync client runs on an ``httpx.Client`` whose transport serves the app in a blocking portal
(``sdk_e2e_support.PortalTransport``); the async client on ``httpx.ASGITransport``.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import secrets
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

import steller
from steller import webhooks
from steller.models import (
    CreatedApiKey,
    Event,
    LedgerEntry,
    Order,
    OrderStatus,
    Quote,
    WebhookEndpoint,
)
from steller_server.sandbox_mode import Sandbox
from tests.sdk_e2e.sdk_e2e_support import BASE_URL, PortalServer, flush_request_logs
from tests.server.webhooks.webhook_support import Received, Receiver

SKU = "SIM-OK-10"  # a simulator product that always completes
FACE = Decimal("10.00")
TRIAL = Decimal("1000.00")  # sandbox signup credit
CSV_COLUMNS = [
    "id",
    "createdAt",
    "type",
    "amount",
    "currency",
    "balanceBefore",
    "balanceAfter",
    "orderId",
    "description",
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


def wait_for_delivery(
    receiver: Receiver, match: Callable[[Received], bool], *, within: float = 15.0
) -> Received:
    """Block (bounded) until the receiver got a request matching ``match``."""
    found: list[Received] = []

    def arrived() -> bool:
        found[:] = [r for r in receiver.requests if match(r)]
        return bool(found)

    cond: threading.Condition = receiver._cond
    with cond:
        assert cond.wait_for(arrived, within), [r.body for r in receiver.requests]
    return found[-1]


def check_signed_delivery(received: Received, secret: str) -> webhooks.WebhookEvent:
    """The server's signature verifies with the SDK and with the standardwebhooks library."""
    event = webhooks.verify(received.body, received.headers, secret=secret)
    payload = StandardWebhook(secret).verify(received.body, received.headers)
    assert payload["id"] == event.id
    assert payload["type"] == event.type
    assert received.headers["webhook-id"]
    return event


def current_month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


# -- checks shared by the sync and async journeys (pure: they only look at results) -------------


def check_signup(account: steller.models.SignupResponse, email: str) -> None:
    assert account.partner.email == email
    assert account.partner.environment == "sandbox"
    assert account.api_key.key.startswith("stlr_test_")
    assert account.api_key.key.endswith(account.api_key.last4)
    assert account.wallet.balance == TRIAL


def check_quote(quote: Quote) -> None:
    assert quote.sku == SKU
    assert quote.quantity == 2
    assert quote.total == quote.unit_price * 2
    assert quote.wallet_balance == TRIAL
    assert quote.sufficient_funds is True


def check_completed(order: Order, quote: Quote, reference_id: str) -> None:
    assert order.status == OrderStatus.completed
    assert order.reference_id == reference_id
    assert order.quantity_fulfilled == 2
    assert order.total == quote.total
    assert order.cards is not None
    assert len(order.cards) == 2
    assert all(card.code for card in order.cards)


def check_ledger_csv(text: str, order: Order) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == CSV_COLUMNS
    debit = [r for r in rows if r["orderId"] == order.id]
    assert len(debit) == 1
    assert Decimal(debit[0]["amount"]) == -order.total
    assert {r["type"] for r in rows} >= {"credit", "debit"}


def check_debit(entries: list[LedgerEntry], order: Order) -> None:
    assert [e.type for e in entries] == ["debit"]
    assert entries[0].amount == -order.total
    assert entries[0].balance_after == entries[0].balance_before - order.total


def check_rotation(new: CreatedApiKey, old: CreatedApiKey) -> None:
    assert new.key.startswith("stlr_test_")
    assert new.key != old.key
    assert new.previous_key_expires_at is not None


# -- sync -----------------------------------------------------------------------------------------


def test_sync_partner_journey(
    sync_server: PortalServer, receiver: Receiver, tmp_path: Path
) -> None:
    http = sync_server.http
    email = f"shop-{secrets.token_hex(3)}@example.com"

    account = steller.Steller.signup(name="Shop", email=email, http_client=http)
    check_signup(account, email)

    with steller.Steller(api_key=account.api_key.key, http_client=http) as client:
        assert client.me.get().id == account.partner.id

        # Catalog: a first page of 50, then every page lazily, with the partner's prices.
        first = client.catalog.list(limit=50)
        assert len(first.data) == 50
        assert first.has_next_page()
        skus = [product.sku for product in client.catalog.list(limit=100)]
        assert len(skus) == len(set(skus)) > 100
        assert skus[:50] == [product.sku for product in first.data]
        (product,) = client.catalog.list(sku=SKU).data
        assert product.min_face_value == FACE
        assert product.currency == "USD"

        quote = client.orders.quote(sku=SKU, face_value=FACE, quantity=2)
        check_quote(quote)

        # The webhook endpoint, before ordering, so the order's events are delivered.
        endpoint = client.webhook.update(url=receiver.url("/sync"))
        assert isinstance(endpoint, WebhookEndpoint)
        assert endpoint.secret is not None
        assert endpoint.secret.startswith("whsec_")
        assert client.webhook.get().url == receiver.url("/sync")

        order = client.orders.create_and_wait(
            sku=SKU,
            face_value=FACE,
            quantity=2,
            reference_id="cart-1",
            expected_total=quote.total,
            poll_interval=0.05,
            timeout=30,
        )
        check_completed(order, quote, "cart-1")

        # The same reference is the same order: no second debit.
        again = client.orders.create(
            sku=SKU,
            face_value="10.00",
            quantity=2,
            reference_id="cart-1",
            expected_total=quote.total,
        )
        assert again.id == order.id
        with pytest.raises(steller.ReferenceConflictError):  # same reference, other order
            client.orders.create(sku=SKU, face_value=FACE, quantity=1, reference_id="cart-1")
        fetched = client.orders.get(order.id)
        assert fetched.status == "completed"
        assert [c.code for c in fetched.cards or []] == [c.code for c in order.cards or []]
        assert [o.id for o in client.orders.list(status="completed")] == [order.id]
        with pytest.raises(steller.NotFoundError) as missing:
            client.orders.get("ord_doesnotexist00000000")
        assert missing.value.request_id

        trail = client.orders.trail(order.id)
        assert trail.charged == order.total == trail.net_charged
        assert trail.wallet_before == TRIAL
        assert trail.wallet_after == TRIAL - order.total
        assert "Shop" in trail.sentence

        wallet = client.wallet.get()
        assert wallet.balance == TRIAL - order.total
        check_debit(list(client.wallet.transactions(order_id=order.id)), order)
        assert sum(e.amount for e in client.wallet.transactions()) == wallet.balance
        target = tmp_path / "ledger.csv"
        written = client.wallet.export_csv(target)
        assert written == target.stat().st_size > 0
        assert not target.with_name("ledger.csv.part").exists()
        check_ledger_csv(target.read_text(encoding="utf-8"), order)

        # Signed deliveries: verified by the SDK and by the reference library.
        secret = endpoint.secret
        completed = wait_for_delivery(
            receiver, lambda r: b'"order.completed"' in r.body and r.path == "/sync"
        )
        event = check_signed_delivery(completed, secret)
        assert event.data["id"] == order.id
        listed = [e.id for e in client.events.list(type="order.completed")]
        assert event.id in listed
        detail = client.events.get(event.id)
        assert isinstance(detail, Event)
        assert detail.data["id"] == order.id
        client.events.redeliver(event.id)
        redelivered = wait_for_delivery(
            receiver,
            lambda r: r.path == "/sync" and r is not completed and b'"order.completed"' in r.body,
        )
        assert check_signed_delivery(redelivered, secret).id == event.id
        test_event = client.webhook.test()
        test_delivery = wait_for_delivery(receiver, lambda r: test_event.id.encode() in r.body)
        assert check_signed_delivery(test_delivery, secret).type == "webhook.test"

        # Keys: list, rotate; the old key works during the grace period.
        (listed_key,) = list(client.keys.list())
        assert listed_key.id == account.api_key.id
        assert listed_key.last4 == account.api_key.last4
        rotated = client.keys.rotate(grace_period_hours=1)
        check_rotation(rotated, account.api_key)
        with client.with_options(api_key=rotated.key) as fresh:
            assert fresh.wallet.get().balance == wallet.balance
            assert {k.id for k in fresh.keys.list()} == {account.api_key.id, rotated.id}
        assert client.wallet.get().balance == wallet.balance

        # Usage, statements and request logs.
        sync_server.call(lambda: flush_request_logs(sync_server.app))
        usage = client.usage.get(days=7)
        assert usage.orders.total == 1
        assert usage.spend == order.total
        assert usage.api_calls > 10
        statement = client.statements.get(current_month())
        assert statement.in_progress is True
        assert statement.closing_balance == wallet.balance
        assert order.id in {line.order_id for line in statement.lines}
        buffer = io.BytesIO()
        assert client.statements.get_csv(current_month(), buffer) == len(buffer.getvalue()) > 0
        check_ledger_csv(buffer.getvalue().decode(), order)

        raw = client.orders.with_raw_response.get(order.id)
        assert raw.request_id
        sync_server.call(lambda: flush_request_logs(sync_server.app))
        (log,) = list(client.logs.list(request_id=raw.request_id))
        assert (log.method, log.path, log.status) == ("GET", f"/api/orders/{order.id}", 200)
        posts = list(client.logs.list(method="POST", path_prefix="/api/orders"))
        assert {p.status for p in posts} >= {202}


# -- async ----------------------------------------------------------------------------------------


async def test_async_partner_journey(
    async_sandbox: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    app = async_sandbox.app
    transport = httpx.ASGITransport(app=app)
    email = f"shop-{secrets.token_hex(3)}@example.com"

    account = await steller.AsyncSteller.signup(
        name="Shop", email=email, base_url=BASE_URL, transport=transport
    )
    check_signup(account, email)

    async with steller.AsyncSteller(
        api_key=account.api_key.key, base_url=BASE_URL, transport=transport
    ) as client:
        assert (await client.me.get()).id == account.partner.id

        first = await client.catalog.list(limit=50)
        assert len(first.data) == 50
        skus = [product.sku async for product in client.catalog.list(limit=100)]
        assert len(skus) == len(set(skus)) > 100
        assert skus[:50] == [product.sku for product in first.data]
        (product,) = (await client.catalog.list(sku=SKU)).data
        assert product.min_face_value == FACE

        quote = await client.orders.quote(sku=SKU, face_value=FACE, quantity=2)
        check_quote(quote)
        endpoint = await client.webhook.update(url=receiver.url("/async"))
        assert endpoint.secret is not None

        order = await client.orders.create_and_wait(
            sku=SKU,
            face_value=FACE,
            quantity=2,
            reference_id="cart-a",
            poll_interval=0.05,
            timeout=30,
        )
        check_completed(order, quote, "cart-a")
        again = await client.orders.create(
            sku=SKU, face_value=FACE, quantity=2, reference_id="cart-a"
        )
        assert again.id == order.id
        assert (await client.orders.get(order.id)).status == "completed"
        assert [o.id async for o in client.orders.list()] == [order.id]
        trail = await client.orders.trail(order.id)
        assert trail.wallet_after == TRIAL - order.total

        wallet = await client.wallet.get()
        assert wallet.balance == TRIAL - order.total
        check_debit([e async for e in client.wallet.transactions(order_id=order.id)], order)
        target = tmp_path / "ledger.csv"
        assert await client.wallet.export_csv(target) == target.stat().st_size
        check_ledger_csv(target.read_text(encoding="utf-8"), order)

        # The receiver is a thread: wait for it off the event loop, which runs the worker.
        completed = await asyncio.to_thread(
            wait_for_delivery, receiver, lambda r: b'"order.completed"' in r.body
        )
        event = check_signed_delivery(completed, endpoint.secret)
        assert event.data["id"] == order.id
        assert event.id in [e.id async for e in client.events.list()]
        assert (await client.events.get(event.id)).type == "order.completed"

        (listed_key,) = [k async for k in client.keys.list()]
        assert listed_key.id == account.api_key.id
        rotated = await client.keys.rotate(grace_period_hours=1)
        check_rotation(rotated, account.api_key)
        fresh = client.with_options(api_key=rotated.key)
        assert (await fresh.wallet.get()).balance == wallet.balance

        await flush_request_logs(app)
        usage = await client.usage.get(days=7)
        assert (usage.orders.total, usage.spend) == (1, order.total)
        statement = await client.statements.get(dt.datetime.now(dt.UTC).date())
        assert statement.closing_balance == wallet.balance
        raw = await client.wallet.with_raw_response.get()
        await flush_request_logs(app)
        logs = [entry async for entry in client.logs.list(request_id=raw.request_id)]
        assert [(entry.method, entry.path) for entry in logs] == [("GET", "/api/wallet/me")]
