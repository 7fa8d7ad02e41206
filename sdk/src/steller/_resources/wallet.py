"""``client.wallet``: the prepaid balance, its append-only ledger, and the CSV export."""

from __future__ import annotations

from steller import models
from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._pagination import AsyncPaginator, SyncPage
from steller._response import (
    APIResponse,
    AsyncAPIResponse,
    async_to_raw_response_wrapper,
    to_raw_response_wrapper,
)
from steller.models import LedgerEntry, LedgerEntryType

from ._base import (
    CHUNK_SIZE,
    AsyncAPIResource,
    DateTimeInput,
    FileTarget,
    SyncAPIResource,
    aiter_body,
    async_write_stream,
    iter_body,
    write_stream,
)

__all__ = ["AsyncWallet", "AsyncWalletWithRawResponse", "Wallet", "WalletWithRawResponse"]

_CSV = {"Accept": "text/csv"}


def _filters(
    type: LedgerEntryType | str | NotGiven,
    order_id: str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
) -> dict[str, object]:
    return {"type": type, "orderId": order_id, "from": from_, "to": to}


class Wallet(SyncAPIResource):
    """The calling partner's wallet (``client.wallet``)."""

    def get(self, *, options: RequestOptions | None = None) -> models.Wallet:
        """The balance, the low-balance threshold and the spend projection.

        ::

            wallet = client.wallet.get()
            print(wallet.balance, wallet.currency)  # Decimal('447.50') USD
        """
        return self._client.request("GET", "/api/wallet/me", cast_to=models.Wallet, options=options)

    def transactions(
        self,
        *,
        type: LedgerEntryType | str | NotGiven = NOT_GIVEN,
        order_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[LedgerEntry]:
        """Ledger entries, newest first; iterating walks every page.

        ::

            for entry in client.wallet.transactions(type="refund"):
                print(entry.created_at, entry.amount, entry.order_id)
        """
        return self._client.get_page(
            "/api/wallet/transactions",
            item_type=LedgerEntry,
            params={**_filters(type, order_id, from_, to), "limit": limit},
            options=options,
        )

    def export_csv(
        self,
        path_or_file: FileTarget,
        *,
        type: LedgerEntryType | str | NotGiven = NOT_GIVEN,
        order_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        chunk_size: int = CHUNK_SIZE,
        options: RequestOptions | None = None,
    ) -> int:
        """Stream the ledger as CSV to a file; return the number of bytes written.

        The body is written in ``chunk_size`` pieces as it arrives, so memory use stays
        constant however long the history. A path is written atomically (a ``.part`` file
        renamed on success); a binary file object is written to as is. Columns: ``id,
        createdAt,type,amount,currency,balanceBefore,balanceAfter,orderId,description``.

        ::

            client.wallet.export_csv("ledger-2026-11.csv", from_="2026-11-01T00:00:00Z")
        """
        response: APIResponse[None] = self._client.request_raw(
            "GET",
            "/api/wallet/transactions/export",
            params=_filters(type, order_id, from_, to),
            headers=_CSV,
            options=options,
            stream=True,
        )
        with response:
            return write_stream(iter_body(response, chunk_size), path_or_file)

    @property
    def with_raw_response(self) -> WalletWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return WalletWithRawResponse(self)


class WalletWithRawResponse:
    """``client.wallet.with_raw_response``."""

    def __init__(self, wallet: Wallet) -> None:
        self.get = to_raw_response_wrapper(wallet.get)
        self.transactions = to_raw_response_wrapper(wallet.transactions)


class AsyncWallet(AsyncAPIResource):
    """The calling partner's wallet (``client.wallet`` of :class:`AsyncSteller`)."""

    async def get(self, *, options: RequestOptions | None = None) -> models.Wallet:
        """The balance, the low-balance threshold and the spend projection.

        ::

            wallet = await client.wallet.get()
        """
        return await self._client.request(
            "GET", "/api/wallet/me", cast_to=models.Wallet, options=options
        )

    def transactions(
        self,
        *,
        type: LedgerEntryType | str | NotGiven = NOT_GIVEN,
        order_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[LedgerEntry]:
        """Ledger entries, newest first: await for one page, ``async for`` for all.

        ::

            async for entry in client.wallet.transactions(type="refund"):
                print(entry.amount)
        """
        return self._client.get_page(
            "/api/wallet/transactions",
            item_type=LedgerEntry,
            params={**_filters(type, order_id, from_, to), "limit": limit},
            options=options,
        )

    async def export_csv(
        self,
        path_or_file: FileTarget,
        *,
        type: LedgerEntryType | str | NotGiven = NOT_GIVEN,
        order_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        chunk_size: int = CHUNK_SIZE,
        options: RequestOptions | None = None,
    ) -> int:
        """Stream the ledger as CSV to a file; see :meth:`Wallet.export_csv`.

        ::

            await client.wallet.export_csv("ledger.csv", type="debit")
        """
        response: AsyncAPIResponse[None] = await self._client.request_raw(
            "GET",
            "/api/wallet/transactions/export",
            params=_filters(type, order_id, from_, to),
            headers=_CSV,
            options=options,
            stream=True,
        )
        async with response:
            return await async_write_stream(aiter_body(response, chunk_size), path_or_file)

    @property
    def with_raw_response(self) -> AsyncWalletWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncWalletWithRawResponse(self)


class AsyncWalletWithRawResponse:
    """``client.wallet.with_raw_response`` of the async client."""

    def __init__(self, wallet: AsyncWallet) -> None:
        self.get = async_to_raw_response_wrapper(wallet.get)
        self.transactions = async_to_raw_response_wrapper(wallet.transactions)
