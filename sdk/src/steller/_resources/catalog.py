"""``client.catalog``: the products you are approved to sell, with your prices."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._pagination import AsyncPaginator, SyncPage
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import CatalogProduct

from ._base import AsyncAPIResource, SyncAPIResource

__all__ = ["AsyncCatalog", "AsyncCatalogWithRawResponse", "Catalog", "CatalogWithRawResponse"]


def _params(
    *,
    currency: str | NotGiven,
    country: str | NotGiven,
    brand: str | NotGiven,
    category: str | NotGiven,
    sku: str | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {
        "currency": currency,
        "country": country,
        "brand": brand,
        "category": category,
        "sku": sku,
        "limit": limit,
    }


class Catalog(SyncAPIResource):
    """Your catalog, by SKU (``client.catalog``)."""

    def list(
        self,
        *,
        currency: str | NotGiven = NOT_GIVEN,
        country: str | NotGiven = NOT_GIVEN,
        brand: str | NotGiven = NOT_GIVEN,
        category: str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[CatalogProduct]:
        """The first page of your catalog; iterating it walks every page.

        Filters: ``currency`` (face currency), ``country`` (ISO alpha-2), ``brand``
        (case-insensitive substring), ``category``, ``sku``.

        ::

            page = client.catalog.list(country="US", limit=100)
            for product in page:  # every product, fetching pages as needed
                print(product.sku, product.unit_price_min, product.currency)
        """
        return self._client.get_page(
            "/api/brand/getCatalog",
            item_type=CatalogProduct,
            params=_params(
                currency=currency,
                country=country,
                brand=brand,
                category=category,
                sku=sku,
                limit=limit,
            ),
            options=options,
        )

    def iter(
        self,
        *,
        currency: str | NotGiven = NOT_GIVEN,
        country: str | NotGiven = NOT_GIVEN,
        brand: str | NotGiven = NOT_GIVEN,
        category: str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Iterator[CatalogProduct]:
        """Every product of every page, lazily (``limit`` is the page size).

        ::

            skus = [p.sku for p in client.catalog.iter(brand="amazon")]
        """
        yield from self.list(
            currency=currency,
            country=country,
            brand=brand,
            category=category,
            sku=sku,
            limit=limit,
            options=options,
        )

    @property
    def with_raw_response(self) -> CatalogWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return CatalogWithRawResponse(self)


class CatalogWithRawResponse:
    """``client.catalog.with_raw_response``."""

    def __init__(self, catalog: Catalog) -> None:
        self.list = to_raw_response_wrapper(catalog.list)


class AsyncCatalog(AsyncAPIResource):
    """Your catalog, by SKU (``client.catalog`` of :class:`AsyncSteller`)."""

    def list(
        self,
        *,
        currency: str | NotGiven = NOT_GIVEN,
        country: str | NotGiven = NOT_GIVEN,
        brand: str | NotGiven = NOT_GIVEN,
        category: str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[CatalogProduct]:
        """Your catalog: await it for the first page, or ``async for`` every product.

        ::

            async for product in client.catalog.list(country="US"):
                print(product.sku)
        """
        return self._client.get_page(
            "/api/brand/getCatalog",
            item_type=CatalogProduct,
            params=_params(
                currency=currency,
                country=country,
                brand=brand,
                category=category,
                sku=sku,
                limit=limit,
            ),
            options=options,
        )

    async def iter(
        self,
        *,
        currency: str | NotGiven = NOT_GIVEN,
        country: str | NotGiven = NOT_GIVEN,
        brand: str | NotGiven = NOT_GIVEN,
        category: str | NotGiven = NOT_GIVEN,
        sku: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncIterator[CatalogProduct]:
        """Every product of every page, lazily.

        ::

            skus = [p.sku async for p in client.catalog.iter(brand="amazon")]
        """
        paginator = self.list(
            currency=currency,
            country=country,
            brand=brand,
            category=category,
            sku=sku,
            limit=limit,
            options=options,
        )
        async for product in paginator:
            yield product

    @property
    def with_raw_response(self) -> AsyncCatalogWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncCatalogWithRawResponse(self)


class AsyncCatalogWithRawResponse:
    """``client.catalog.with_raw_response`` of the async client."""

    def __init__(self, catalog: AsyncCatalog) -> None:
        self.list = async_to_raw_response_wrapper(catalog.list)
