"""What every resource shares: the request layer it calls and the argument helpers.

A resource method turns typed keyword arguments into one request-layer call and returns that
call's result unchanged (that is what lets ``with_raw_response`` wrap it). Request bodies are
built from the generated request models, so the JSON field names come from the contract and
never from hand-written strings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import os
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TypeAlias, TypeVar, cast

import httpx

from steller._config import NotGiven
from steller._errors import APIConnectionError, APITimeoutError
from steller._http import AsyncAPIClient, SyncAPIClient
from steller._response import APIResponse, AsyncAPIResponse

__all__ = [
    "AmountInput",
    "AsyncAPIResource",
    "DateTimeInput",
    "FileTarget",
    "SyncAPIResource",
    "aiter_body",
    "amount",
    "amount_or_none",
    "async_write_stream",
    "enum_value",
    "given",
    "iter_body",
    "month",
    "write_stream",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

#: A money amount as the caller may pass it: a ``Decimal``, a decimal string or an int.
#: Floats are refused: ``0.1 + 0.2`` is not money.
AmountInput: TypeAlias = Decimal | str | int
#: A ``from``/``to`` filter: an aware ``datetime`` or an RFC 3339 string.
DateTimeInput: TypeAlias = dt.datetime | str
#: Where a download goes: a path (written atomically) or a binary file opened by the caller.
FileTarget: TypeAlias = str | os.PathLike[str] | IO[bytes]

#: Size of the chunks a download is written in: memory use stays constant whatever the size.
CHUNK_SIZE = 64 * 1024

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class SyncAPIResource:
    """Base of the sync resources: holds the :class:`SyncAPIClient` they send requests with."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client


class AsyncAPIResource:
    """Base of the async resources: holds the :class:`AsyncAPIClient`."""

    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client


def given(value: T | NotGiven) -> T | None:
    """``None`` for ``NOT_GIVEN`` (the request models leave ``None`` optional fields out)."""
    return None if isinstance(value, NotGiven) else value


def enum_value(cls: type[E], value: E | str) -> E:
    """``value`` as a member of ``cls`` when it is one; any other string is kept as is.

    The converter sends strings unchanged, so a value newer than this SDK still reaches the
    server, which has the last word on what is valid.
    """
    if isinstance(value, cls):
        return value
    return cls(value) if value in cls._value2member_map_ else cast("E", value)


def amount(name: str, value: AmountInput) -> Decimal:
    """A money argument as a finite ``Decimal``, keeping the caller's scale (``"50.00"``).

    Floats (and bools) are refused with a ``TypeError``: money is never binary floating point.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        msg = f"{name} must be a Decimal or a decimal string such as '50.00', not {value!r}"
        raise TypeError(msg)
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        msg = f"{name} must be a decimal amount such as '50.00', got {value!r}"
        raise ValueError(msg) from None
    if not result.is_finite():
        msg = f"{name} must be a finite amount, got {value!r}"
        raise ValueError(msg)
    return result


def amount_or_none(name: str, value: AmountInput | NotGiven) -> Decimal | None:
    """:func:`amount` for an optional argument (``NOT_GIVEN`` gives ``None``)."""
    return None if isinstance(value, NotGiven) else amount(name, value)


def month(period: str | dt.date) -> str:
    """A statement period as ``YYYY-MM``, from that string or any date in the month."""
    if isinstance(period, dt.date):
        return f"{period.year:04d}-{period.month:02d}"
    if not _PERIOD.match(period):
        msg = f"period must be a month as 'YYYY-MM' or a date, got {period!r}"
        raise ValueError(msg)
    return period


def _stream_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    # The response had started: the body broke off. Same error tree as a failed request.
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    return cls(
        f"The response body of {request.method} {request.url} broke off"
        f" ({type(exc).__name__}: {exc})",
        request=request,
    )


def iter_body(response: APIResponse[None], chunk_size: int) -> Iterator[bytes]:
    """The body of a streamed response in chunks; a broken stream raises
    :class:`~steller.APIConnectionError` (or ``APITimeoutError``)."""
    try:
        yield from response.iter_bytes(chunk_size)
    except httpx.TransportError as exc:
        raise _stream_error(exc, response.http_response.request) from exc


async def aiter_body(response: AsyncAPIResponse[None], chunk_size: int) -> AsyncIterator[bytes]:
    """:func:`iter_body` for the async client."""
    try:
        async for chunk in response.iter_bytes(chunk_size):
            yield chunk
    except httpx.TransportError as exc:
        raise _stream_error(exc, response.http_response.request) from exc


def write_stream(chunks: Iterator[bytes], target: FileTarget) -> int:
    """Write ``chunks`` to ``target``; return the number of bytes written.

    A path is written to ``<name>.part`` next to it and renamed into place once complete, so a
    failed download never leaves a truncated file behind. A file object is written as is.
    """
    if not isinstance(target, str | os.PathLike):
        return sum(target.write(chunk) or 0 for chunk in chunks)
    path = Path(target)
    part = path.with_name(path.name + ".part")
    written = 0
    try:
        with part.open("wb") as file:
            for chunk in chunks:
                written += file.write(chunk)
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return written


async def async_write_stream(chunks: AsyncIterator[bytes], target: FileTarget) -> int:
    """:func:`write_stream` for an async body; file writes run in a worker thread."""
    if not isinstance(target, str | os.PathLike):
        written = 0
        async for chunk in chunks:
            written += target.write(chunk) or 0
        return written
    path = Path(target)
    part = path.with_name(path.name + ".part")
    written = 0
    try:
        file = await asyncio.to_thread(part.open, "wb")
        try:
            async for chunk in chunks:
                written += await asyncio.to_thread(file.write, chunk)
        finally:
            await asyncio.to_thread(file.close)
        await asyncio.to_thread(part.replace, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return written
