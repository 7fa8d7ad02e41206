"""Async client for Bamboo's integration API (see /work/shared/bamboo.md for the facts).

>>> async with BambooClient("https://api.bamboocardportal.com", "id", "secret") as bamboo:
...     lines = [OrderLine(product_id=439685, quantity=2, value=Decimal(10))]
...     await bamboo.place_order(request_id, account_id=555, lines=lines)

* Every call first waits for a slot in the shared per-endpoint limiter (``limits.py``).
* Transient failures (connect errors, timeouts, 5xx) are retried with jittered exponential backoff;
  a 429 "Please wait for N seconds." is waited out when ``N <= max_wait``.
* Checkout is retried with the *same* RequestId; ``OrderAlreadyExists`` means the order exists
  (perhaps from an attempt whose answer we lost), so the client fetches it with Get Order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

import httpx

from steller_server.vendor.errors import (
    VendorOrderNotFound,
    VendorProtocolError,
    VendorRejected,
)
from steller_server.vendor.limits import BambooLimits, VendorLimiter
from steller_server.vendor.models import (
    Account,
    Brand,
    CatalogPage,
    Category,
    ExchangeRates,
    NotificationConfig,
    OrderLine,
    OrderReportRow,
    TransactionRow,
    VendorOrder,
)
from steller_server.vendor.transport import RetryPolicy, VendorHTTP

__all__ = ["BambooClient", "RetryPolicy"]


class BambooClient:
    """Typed, rate-limited, retrying client for one Bamboo credential pair."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        limiter_storage_uri: str = "memory://",
        limiter_namespace: str = "steller-bamboo",
        limits: BambooLimits | None = None,
        max_wait: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=timeout)
        self.limiter = VendorLimiter(
            limiter_storage_uri, limits, namespace=limiter_namespace, max_wait=max_wait
        )
        self._transport = VendorHTTP(
            self._http,
            base_url=self.base_url,
            auth=httpx.BasicAuth(client_id, client_secret),
            scope=client_id,
            limiter=self.limiter,
            retry=retry or RetryPolicy(),
            max_wait=max_wait,
        )
        self._http_call = self._transport.call

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- catalogue -----------------------------------------------------------------------------

    async def get_catalog_page(
        self,
        page_index: int = 0,
        page_size: int = 100,
        *,
        currency_code: str | None = None,
        country_code: str | None = None,
        name: str | None = None,
        modified_since: date | None = None,
        product_id: int | None = None,
        brand_id: str | None = None,
        target_currency: str | None = None,
    ) -> CatalogPage:
        params: dict[str, str | int] = {"PageIndex": page_index, "PageSize": page_size}
        optional = {
            "CurrencyCode": currency_code,
            "CountryCode": country_code,
            "Name": name,
            "ModifiedDate": modified_since.isoformat() if modified_since else None,
            "ProductId": product_id,
            "BrandId": brand_id,
            "TargetCurrency": target_currency,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        data = await self._http_call(
            "catalog", "GET", "/api/integration/v2.0/catalog", params=params
        )
        return CatalogPage.from_wire(data)

    async def iter_catalog(self, *, page_size: int = 100, **filters: Any) -> AsyncIterator[Brand]:
        """Every brand, page by page (zero-based), stopping on a short page."""
        page_index = 0
        while True:
            page = await self.get_catalog_page(page_index, page_size, **filters)
            for brand in page.items:
                yield brand
            if len(page.items) < page_size:
                return
            page_index += 1

    async def get_categories(self) -> list[Category]:
        """The vendor's category list (names for :attr:`Brand.categories` ids)."""
        data = await self._http_call("categories", "GET", "/api/integration/v2.0/categories")
        items = data if isinstance(data, list) else (data or {}).get("items") or ()
        return [Category.from_wire(c) for c in items if isinstance(c, dict) and "id" in c]

    # -- accounts and orders -------------------------------------------------------------------

    async def get_accounts(self) -> list[Account]:
        data = await self._http_call("accounts", "GET", "/api/integration/v1.0/accounts")
        return [Account.from_wire(a) for a in data.get("accounts") or ()]

    async def place_order(
        self, request_id: str | uuid.UUID, account_id: int, lines: Sequence[OrderLine]
    ) -> VendorOrder | str:
        """Place an order under *our* ``request_id`` (a GUID, never the partner's reference).

        Returns the RequestId string when Bamboo accepted it now (fetch cards with
        ``get_order``), or the existing ``VendorOrder`` when Bamboo already had that RequestId
        (a lost answer to an earlier attempt, or a resumed job).
        Raises ``VendorRejected`` for reason codes, ``VendorUnavailable`` (check
        ``outcome_unknown``) when retries ran out.
        """
        rid = str(uuid.UUID(str(request_id)))
        body = {
            "RequestId": rid,
            "AccountId": account_id,
            "Products": [line.to_wire() for line in lines],
        }
        try:
            data = await self._http_call(
                "checkout",
                "POST",
                "/api/integration/v1.0/orders/checkout",
                body=body,
                product_ids=[line.product_id for line in lines],
            )
        except VendorRejected as exc:
            if exc.reason_code != "OrderAlreadyExists":
                raise
            return await self.get_order(rid)
        if not isinstance(data, str):
            raise VendorProtocolError(f"checkout answered {data!r}, expected the RequestId")
        return data

    async def get_order(self, request_id: str | uuid.UUID) -> VendorOrder:
        try:
            data = await self._http_call(
                "get_order", "GET", f"/api/integration/v1.0/orders/{request_id}"
            )
        except VendorRejected as exc:
            if exc.reason_code == "OrderNotFound" or exc.status_code == 404:
                raise VendorOrderNotFound(status_code=exc.status_code or 404) from exc
            raise
        return VendorOrder.from_wire(data)

    # -- rates, reports, notifications ---------------------------------------------------------

    async def get_exchange_rates(
        self, base: str | None = None, currency: str | None = None
    ) -> ExchangeRates:
        params = {k: v for k, v in {"baseCurrency": base, "currency": currency}.items() if v}
        data = await self._http_call(
            "exchange_rates", "GET", "/api/integration/v1.0/exchange-rates", params=params
        )
        return ExchangeRates.from_wire(data)

    async def get_transactions(self, start: date, end: date) -> list[TransactionRow]:
        """Balance movements from ``start`` to ``end`` inclusive."""
        data = await self._http_call(
            "transactions",
            "GET",
            "/api/Integration/v1/transactions",
            params={"startDate": start.isoformat(), "endDate": end.isoformat()},
        )
        return [
            TransactionRow.from_wire(str(block.get("clientName") or ""), tx)
            for block in data.get("clients") or ()
            for tx in block.get("transactions") or ()
        ]

    async def get_orders_report(self, start: date, end: date) -> list[OrderReportRow]:
        data = await self._http_call(
            "orders_report",
            "GET",
            "/api/Integration/v1/orders",
            params={"startDate": start.isoformat(), "endDate": end.isoformat()},
        )
        return [OrderReportRow.from_wire(row) for row in data or ()]

    async def set_notification(
        self, *, notification_url: str, notification_url_sandbox: str = "", secret_key: str = ""
    ) -> NotificationConfig:
        """An empty ``notification_url`` turns Bamboo's callbacks off."""
        body = {
            "notificationUrl": notification_url,
            "notificationUrlSandbox": notification_url_sandbox,
            "secretKey": secret_key,
        }
        data = await self._http_call(
            "notification", "POST", "/api/Integration/v1/notification", body=body
        )
        return NotificationConfig.from_wire(data)

    async def get_notification(self) -> NotificationConfig:
        data = await self._http_call("notification", "GET", "/api/Integration/v1/notification")
        return NotificationConfig.from_wire(data)
