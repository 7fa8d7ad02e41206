"""The SDK as a user types it: mypy checks this file (``mypy tests/typing``); pytest never
runs it (see conftest.py). Each ``assert_type`` pins a public return type; a change that makes
the SDK harder to use from typed code fails the type check."""

# mypy: disallow-untyped-defs, disallow-any-generics, warn-unused-ignores

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import assert_type

import httpx

import steller
from steller import (
    APIResponse,
    AsyncAPIResponse,
    AsyncPage,
    AsyncPaginator,
    AsyncSteller,
    OrderWaitTimeout,
    RequestOptions,
    Steller,
    SyncPage,
    Timeout,
    webhooks,
)
from steller.admin import AsyncStellerAdmin, StellerAdmin
from steller.models import (
    AdminOrder,
    AdminPartner,
    ApprovedProductPage,
    AuditVerification,
    CatalogProduct,
    CreatedApiKey,
    Event,
    Health,
    LedgerEntry,
    Order,
    OrderStatus,
    OrderTrail,
    Partner,
    Quote,
    SignupResponse,
    Statement,
    StatusPage,
    Usage,
    Wallet,
    WalletMovement,
    WebhookEndpoint,
    WebhookSecret,
)


def sync_usage() -> None:
    client = Steller(api_key="stlr_test_x", environment="sandbox", timeout=Timeout(read=10))
    with client:
        page = client.catalog.list(country="US", limit=50)
        assert_type(page, SyncPage[CatalogProduct])
        for product in page:
            assert_type(product, CatalogProduct)
            assert_type(product.unit_price_min, Decimal)
        for product in client.catalog.iter(brand="amazon"):
            assert_type(product, CatalogProduct)

        quote = client.orders.quote(sku="AMZ-US", face_value="50.00", quantity=1)
        assert_type(quote, Quote)
        order = client.orders.create(
            sku="AMZ-US",
            face_value=Decimal("50.00"),
            quantity=1,
            reference_id="cart-1",
            expected_total=quote.total,
            idempotency_key="cart-1-attempt",
            options=RequestOptions(timeout=5),
        )
        assert_type(order, Order)
        assert_type(order.status, OrderStatus)
        assert_type(client.orders.get(order.id), Order)
        assert_type(client.orders.trail(order.id), OrderTrail)
        assert_type(
            client.orders.list(status="completed", from_=dt.datetime.now(dt.UTC)), SyncPage[Order]
        )
        try:
            done = client.orders.create_and_wait(
                sku="AMZ-US", face_value="50", quantity=1, reference_id="r", timeout=30
            )
            assert_type(done, Order)
        except OrderWaitTimeout as err:
            assert_type(err.order, Order)

        assert_type(client.wallet.get(), Wallet)
        assert_type(client.wallet.transactions(type="debit"), SyncPage[LedgerEntry])
        assert_type(client.wallet.export_csv("ledger.csv"), int)
        assert_type(client.wallet.export_csv(io.BytesIO()), int)
        assert_type(client.usage.get(days=7), Usage)
        assert_type(client.statements.get("2026-11"), Statement)
        assert_type(client.statements.get_csv(dt.date(2026, 11, 1), "s.csv"), int)
        assert_type(client.webhook.get(), WebhookEndpoint)
        assert_type(client.webhook.update(url="https://example.com/h"), WebhookEndpoint)
        assert_type(client.webhook.test(), Event)
        assert_type(client.webhook.rotate_secret(grace_period_hours=1), WebhookSecret)
        assert_type(client.events.list(status="failed"), SyncPage[Event])
        assert_type(client.events.redeliver("evt_1"), Event)
        assert_type(client.keys.rotate(), CreatedApiKey)
        assert_type(client.keys.revoke("key_1"), None)
        assert_type(client.me.get(), Partner)
        assert_type(client.me.update(low_balance_threshold="10.00"), Partner)
        assert_type(client.health(), Health)
        assert_type(client.status(), StatusPage)

        raw = client.orders.with_raw_response.get(order.id)
        assert_type(raw, APIResponse[Order])
        assert_type(raw.parse(), Order)
        assert_type(raw.request_id, str | None)
        raw_page = client.orders.with_raw_response.list()
        assert_type(raw_page, APIResponse[SyncPage[Order]])

        copy = client.with_options(max_retries=0)
        assert_type(copy, Steller)

    account = steller.signup(name="Acme", email="dev@acme.example", environment="sandbox")
    assert_type(account, SignupResponse)
    assert_type(account.api_key.key, str)

    Steller(api_key="k", base_url="http://testserver", http_client=httpx.Client())


async def async_usage() -> None:
    async with AsyncSteller(
        api_key="k", transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ) as client:
        paginator = client.orders.list(limit=10)
        assert_type(paginator, AsyncPaginator[Order])
        first = await paginator
        assert_type(first, AsyncPage[Order])
        async for order in client.orders.list():
            assert_type(order, Order)
        async for product in client.catalog.iter():
            assert_type(product, CatalogProduct)
        assert_type(
            await client.orders.create(sku="A-B", face_value="5", quantity=1, reference_id="r"),
            Order,
        )
        assert_type(
            await client.orders.create_and_wait(
                sku="A-B", face_value="5", quantity=1, reference_id="r"
            ),
            Order,
        )
        assert_type(await client.wallet.get(), Wallet)
        assert_type(await client.wallet.export_csv("ledger.csv"), int)
        raw = await client.wallet.with_raw_response.get()
        assert_type(raw, AsyncAPIResponse[Wallet])
        assert_type(await raw.parse(), Wallet)
        raw_page = await client.orders.with_raw_response.list()
        assert_type(raw_page, AsyncAPIResponse[AsyncPage[Order]])
        assert_type(client.with_options(timeout=3), AsyncSteller)
    assert_type(await AsyncSteller.signup(name="A", email="a@b.example"), SignupResponse)


def admin_usage() -> None:
    with StellerAdmin.login("ops@steller.example", "pw", environment="sandbox") as admin:
        assert_type(admin, StellerAdmin)
        partner = admin.partners.create(name="Acme", email="dev@acme.example")
        assert_type(partner, AdminPartner)
        assert_type(
            admin.partners.wallet.credit(partner.id, amount="500.00", reason="Wire"), WalletMovement
        )
        assert_type(
            admin.partners.products.approve(partner.id, {"AMZ-US": "5"}), ApprovedProductPage
        )
        assert_type(admin.partners.keys.create(partner.id, role="developer"), CreatedApiKey)
        assert_type(admin.orders.list(status="processing"), SyncPage[AdminOrder])
        assert_type(admin.orders.cancel("ord_1", reason="r"), Order)
        assert_type(admin.audit_log.verify(), AuditVerification)
        assert_type(admin.partners.with_raw_response.wallet.get(partner.id), APIResponse[Wallet])
    StellerAdmin(bearer_token="tok").close()


async def async_admin_usage() -> None:
    admin = await AsyncStellerAdmin.login("ops@steller.example", "pw")
    async with admin:
        assert_type(await admin.orders.get("ord_1"), AdminOrder)
        async for partner in admin.partners.list(q="acme"):
            assert_type(partner, AdminPartner)


def webhook_usage(body: bytes, headers: dict[str, str]) -> None:
    event = webhooks.verify(body, headers, secret=["whsec_new", "whsec_old"])
    assert_type(event, webhooks.WebhookEvent)
    assert_type(event.id, str)
    try:
        webhooks.verify(body, headers, secret="whsec_x")
    except webhooks.WebhookVerificationError as err:
        assert_type(err, webhooks.WebhookVerificationError)


def misuse_is_caught() -> None:
    client = Steller(api_key="k")
    client.orders.create(sku="A", face_value=50.0, quantity=1, reference_id="r")  # type: ignore[arg-type]
    client.orders.get(order_id=123)  # type: ignore[arg-type]
    client.wallet.get(days=3)  # type: ignore[call-arg]
