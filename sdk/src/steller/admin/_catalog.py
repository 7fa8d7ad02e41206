"""``admin.products`` (the vendor catalog), ``admin.catalog_sync`` and ``admin.vendor``."""

from __future__ import annotations

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._resources._base import AsyncAPIResource, SyncAPIResource
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import CatalogSyncRun, ExchangeRates, VendorAccount, VendorProduct

__all__ = [
    "AsyncCatalogSync",
    "AsyncVendor",
    "AsyncVendorProducts",
    "CatalogSync",
    "Vendor",
    "VendorProducts",
]

_SYNC = "/api/admin/catalog/sync"


class VendorProducts(SyncAPIResource):
    """``admin.products``: our copy of the vendor catalog, with our cost."""

    def list(
        self,
        *,
        q: str | NotGiven = NOT_GIVEN,
        currency: str | NotGiven = NOT_GIVEN,
        available: bool | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[VendorProduct]:
        """Vendor products; ``q`` searches SKU, name and brand.

        ::

            for product in admin.products.list(q="amazon", available=True):
                print(product.sku, product.cost_min, product.cost_currency)
        """
        return self._client.get_page(
            "/api/admin/products",
            item_type=VendorProduct,
            params={"q": q, "currency": currency, "available": available, "limit": limit},
            options=options,
        )

    @property
    def with_raw_response(self) -> VendorProductsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return VendorProductsWithRawResponse(self)


class VendorProductsWithRawResponse:
    """``admin.products.with_raw_response``."""

    def __init__(self, products: VendorProducts) -> None:
        self.list = to_raw_response_wrapper(products.list)


class CatalogSync(SyncAPIResource):
    """``admin.catalog_sync``: pull the vendor catalog and FX rates now."""

    def start(
        self,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> CatalogSyncRun:
        """Start a sync; it runs in the background (poll it with :meth:`get`).

        ::

            run = admin.catalog_sync.start()
        """
        return self._client.request(
            "POST", _SYNC, cast_to=CatalogSyncRun, idempotency_key=idempotency_key, options=options
        )

    def get(self, run_id: str, *, options: RequestOptions | None = None) -> CatalogSyncRun:
        """One sync run and its counts.

        ::

            run = admin.catalog_sync.get("syn_2Bc4De6Fg8Hj0Kl2")
            print(run.status, run.products, run.error)
        """
        return self._client.request(
            "GET", encode_path(_SYNC + "/{id}", id=run_id), cast_to=CatalogSyncRun, options=options
        )

    @property
    def with_raw_response(self) -> CatalogSyncWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return CatalogSyncWithRawResponse(self)


class CatalogSyncWithRawResponse:
    """``admin.catalog_sync.with_raw_response``."""

    def __init__(self, sync: CatalogSync) -> None:
        self.start = to_raw_response_wrapper(sync.start)
        self.get = to_raw_response_wrapper(sync.get)


class Vendor(SyncAPIResource):
    """``admin.vendor``: the vendor's settlement accounts and FX rates."""

    def accounts(self, *, options: RequestOptions | None = None) -> SyncPage[VendorAccount]:
        """Vendor accounts with their balances (one page).

        ::

            for account in admin.vendor.accounts():
                print(account.currency, account.balance)
        """
        return self._client.get_page(
            "/api/admin/vendor/accounts", item_type=VendorAccount, options=options
        )

    def exchange_rates(
        self, *, base: str | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> ExchangeRates:
        """The vendor's FX rates from ``base`` (default USD).

        ::

            rates = admin.vendor.exchange_rates(base="EUR")
        """
        return self._client.request(
            "GET",
            "/api/admin/vendor/exchange-rates",
            params={"base": base},
            cast_to=ExchangeRates,
            options=options,
        )

    @property
    def with_raw_response(self) -> VendorWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return VendorWithRawResponse(self)


class VendorWithRawResponse:
    """``admin.vendor.with_raw_response``."""

    def __init__(self, vendor: Vendor) -> None:
        self.accounts = to_raw_response_wrapper(vendor.accounts)
        self.exchange_rates = to_raw_response_wrapper(vendor.exchange_rates)


class AsyncVendorProducts(AsyncAPIResource):
    """``admin.products`` of the async admin client."""

    def list(
        self,
        *,
        q: str | NotGiven = NOT_GIVEN,
        currency: str | NotGiven = NOT_GIVEN,
        available: bool | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[VendorProduct]:
        """Vendor products.

        ::

            async for product in admin.products.list(q="amazon"):
                print(product.sku)
        """
        return self._client.get_page(
            "/api/admin/products",
            item_type=VendorProduct,
            params={"q": q, "currency": currency, "available": available, "limit": limit},
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncVendorProductsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncVendorProductsWithRawResponse(self)


class AsyncVendorProductsWithRawResponse:
    """``admin.products.with_raw_response`` of the async admin client."""

    def __init__(self, products: AsyncVendorProducts) -> None:
        self.list = async_to_raw_response_wrapper(products.list)


class AsyncCatalogSync(AsyncAPIResource):
    """``admin.catalog_sync`` of the async admin client."""

    async def start(
        self,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> CatalogSyncRun:
        """Start a sync.

        ::

            run = await admin.catalog_sync.start()
        """
        return await self._client.request(
            "POST", _SYNC, cast_to=CatalogSyncRun, idempotency_key=idempotency_key, options=options
        )

    async def get(self, run_id: str, *, options: RequestOptions | None = None) -> CatalogSyncRun:
        """One sync run.

        ::

            run = await admin.catalog_sync.get("syn_2Bc4De6Fg8Hj0Kl2")
        """
        return await self._client.request(
            "GET", encode_path(_SYNC + "/{id}", id=run_id), cast_to=CatalogSyncRun, options=options
        )

    @property
    def with_raw_response(self) -> AsyncCatalogSyncWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncCatalogSyncWithRawResponse(self)


class AsyncCatalogSyncWithRawResponse:
    """``admin.catalog_sync.with_raw_response`` of the async admin client."""

    def __init__(self, sync: AsyncCatalogSync) -> None:
        self.start = async_to_raw_response_wrapper(sync.start)
        self.get = async_to_raw_response_wrapper(sync.get)


class AsyncVendor(AsyncAPIResource):
    """``admin.vendor`` of the async admin client."""

    def accounts(self, *, options: RequestOptions | None = None) -> AsyncPaginator[VendorAccount]:
        """Vendor accounts with their balances.

        ::

            page = await admin.vendor.accounts()
        """
        return self._client.get_page(
            "/api/admin/vendor/accounts", item_type=VendorAccount, options=options
        )

    async def exchange_rates(
        self, *, base: str | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> ExchangeRates:
        """The vendor's FX rates.

        ::

            rates = await admin.vendor.exchange_rates(base="EUR")
        """
        return await self._client.request(
            "GET",
            "/api/admin/vendor/exchange-rates",
            params={"base": base},
            cast_to=ExchangeRates,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncVendorWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncVendorWithRawResponse(self)


class AsyncVendorWithRawResponse:
    """``admin.vendor.with_raw_response`` of the async admin client."""

    def __init__(self, vendor: AsyncVendor) -> None:
        self.accounts = async_to_raw_response_wrapper(vendor.accounts)
        self.exchange_rates = async_to_raw_response_wrapper(vendor.exchange_rates)
