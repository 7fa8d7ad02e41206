"""``client.usage`` and ``client.statements``: what you ordered, spent and were refunded."""

from __future__ import annotations

import datetime as dt

from steller import models
from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import encode_path
from steller._response import (
    APIResponse,
    AsyncAPIResponse,
    async_to_raw_response_wrapper,
    to_raw_response_wrapper,
)
from steller.models import Statement

from ._base import (
    CHUNK_SIZE,
    AsyncAPIResource,
    FileTarget,
    SyncAPIResource,
    aiter_body,
    async_write_stream,
    iter_body,
    month,
    write_stream,
)

__all__ = [
    "AsyncStatements",
    "AsyncStatementsWithRawResponse",
    "AsyncUsage",
    "AsyncUsageWithRawResponse",
    "Statements",
    "StatementsWithRawResponse",
    "Usage",
    "UsageWithRawResponse",
]

_CSV = {"Accept": "text/csv"}
_TEMPLATE = "/api/partner/statements/{period}"


class Usage(SyncAPIResource):
    """Usage figures (``client.usage``)."""

    def get(
        self, *, days: int | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> models.Usage:
        """Orders, spend, refunds, top products and API calls over the last ``days`` (30).

        ::

            usage = client.usage.get(days=7)
            print(usage.orders.total, usage.spend, usage.success_rate)
        """
        return self._client.request(
            "GET",
            "/api/partner/usage",
            params={"days": days},
            cast_to=models.Usage,
            options=options,
        )

    @property
    def with_raw_response(self) -> UsageWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return UsageWithRawResponse(self)


class UsageWithRawResponse:
    """``client.usage.with_raw_response``."""

    def __init__(self, usage: Usage) -> None:
        self.get = to_raw_response_wrapper(usage.get)


class Statements(SyncAPIResource):
    """Monthly wallet statements, UTC months (``client.statements``)."""

    def get(self, period: str | dt.date, *, options: RequestOptions | None = None) -> Statement:
        """The statement of a month (``"2026-11"`` or any date in it) with every ledger line.

        The current month comes back with ``in_progress=True``.

        ::

            statement = client.statements.get("2026-11")
            print(statement.opening_balance, statement.closing_balance)
        """
        return self._client.request(
            "GET",
            encode_path(_TEMPLATE, period=month(period)),
            cast_to=Statement,
            options=options,
        )

    def get_csv(
        self,
        period: str | dt.date,
        path_or_file: FileTarget,
        *,
        chunk_size: int = CHUNK_SIZE,
        options: RequestOptions | None = None,
    ) -> int:
        """Stream a month's ledger lines as CSV to a file; return the bytes written.

        Same columns as ``client.wallet.export_csv``; a path is written atomically.

        ::

            client.statements.get_csv("2026-11", "statement-2026-11.csv")
        """
        response: APIResponse[None] = self._client.request_raw(
            "GET",
            encode_path(_TEMPLATE, period=month(period)),
            headers=_CSV,
            options=options,
            stream=True,
        )
        with response:
            return write_stream(iter_body(response, chunk_size), path_or_file)

    @property
    def with_raw_response(self) -> StatementsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse` (headers, raw JSON)."""
        return StatementsWithRawResponse(self)


class StatementsWithRawResponse:
    """``client.statements.with_raw_response``."""

    def __init__(self, statements: Statements) -> None:
        self.get = to_raw_response_wrapper(statements.get)


class AsyncUsage(AsyncAPIResource):
    """Usage figures (``client.usage`` of :class:`AsyncSteller`)."""

    async def get(
        self, *, days: int | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> models.Usage:
        """Usage over the last ``days``; see :meth:`Usage.get`.

        ::

            usage = await client.usage.get(days=7)
        """
        return await self._client.request(
            "GET",
            "/api/partner/usage",
            params={"days": days},
            cast_to=models.Usage,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncUsageWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncUsageWithRawResponse(self)


class AsyncUsageWithRawResponse:
    """``client.usage.with_raw_response`` of the async client."""

    def __init__(self, usage: AsyncUsage) -> None:
        self.get = async_to_raw_response_wrapper(usage.get)


class AsyncStatements(AsyncAPIResource):
    """Monthly wallet statements (``client.statements`` of :class:`AsyncSteller`)."""

    async def get(
        self, period: str | dt.date, *, options: RequestOptions | None = None
    ) -> Statement:
        """The statement of a month; see :meth:`Statements.get`.

        ::

            statement = await client.statements.get("2026-11")
        """
        return await self._client.request(
            "GET",
            encode_path(_TEMPLATE, period=month(period)),
            cast_to=Statement,
            options=options,
        )

    async def get_csv(
        self,
        period: str | dt.date,
        path_or_file: FileTarget,
        *,
        chunk_size: int = CHUNK_SIZE,
        options: RequestOptions | None = None,
    ) -> int:
        """Stream a month's ledger lines as CSV to a file; see :meth:`Statements.get_csv`.

        ::

            await client.statements.get_csv("2026-11", "statement-2026-11.csv")
        """
        response: AsyncAPIResponse[None] = await self._client.request_raw(
            "GET",
            encode_path(_TEMPLATE, period=month(period)),
            headers=_CSV,
            options=options,
            stream=True,
        )
        async with response:
            return await async_write_stream(aiter_body(response, chunk_size), path_or_file)

    @property
    def with_raw_response(self) -> AsyncStatementsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncStatementsWithRawResponse(self)


class AsyncStatementsWithRawResponse:
    """``client.statements.with_raw_response`` of the async client."""

    def __init__(self, statements: AsyncStatements) -> None:
        self.get = async_to_raw_response_wrapper(statements.get)
