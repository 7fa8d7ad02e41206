"""Raw responses: what ``client.<resource>.with_raw_response.<method>(...)`` returns.

An :class:`APIResponse` (``AsyncAPIResponse`` for the async client) gives the HTTP details a
model hides — status, headers, request id, the idempotency key sent, how many retries it took —
and ``parse()`` for the model the plain method would have returned::

    raw = client.orders.with_raw_response.create(sku="AMZ-US", face_value="50.00", ...)
    print(raw.status_code, raw.request_id, raw.idempotency_key, raw.idempotent_replayed)
    order = raw.parse()

Resource authors get this for free: :func:`to_raw_response_wrapper` (sync) and
:func:`async_to_raw_response_wrapper` turn a resource method into its raw twin, as long as the
method returns the result of exactly one request-layer call unchanged.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar, cast

import httpx

__all__ = [
    "APIResponse",
    "AsyncAPIResponse",
    "BaseAPIResponse",
    "async_to_raw_response_wrapper",
    "to_raw_response_wrapper",
]

R = TypeVar("R")
P = ParamSpec("P")

_NO_RESULT: Any = object()

# Set by the raw-response wrappers for the duration of one resource-method call; the request
# layer consumes it (resets it to False) on the first request it sends, so nested calls such as
# fetching the next page later are unaffected.
_RAW_RESPONSE: ContextVar[bool] = ContextVar("steller_raw_response", default=False)


def take_raw_response_flag() -> bool:
    """Return whether the current call asked for a raw response, and clear the request."""
    if _RAW_RESPONSE.get():
        _RAW_RESPONSE.set(False)
        return True
    return False


class BaseAPIResponse(Generic[R]):
    """What sync and async raw responses share; see :class:`APIResponse`."""

    def __init__(
        self,
        *,
        http_response: httpx.Response,
        parser: Callable[[httpx.Response], R],
        idempotency_key: str | None,
        retries_taken: int,
        elapsed: dt.timedelta,
    ) -> None:
        self.http_response = http_response
        self._parser = parser
        #: The ``Idempotency-Key`` the request carried (the same on every attempt), or ``None``.
        self.idempotency_key = idempotency_key
        #: How many retries the SDK made before this response (0 when the first attempt won).
        self.retries_taken = retries_taken
        #: Wall time of the whole call, retries and waits included, until the response headers.
        self.elapsed = elapsed
        self._parsed: R = _NO_RESULT

    @property
    def status_code(self) -> int:
        """The HTTP status code."""
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (case-insensitive)."""
        return self.http_response.headers

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-Id`` for this call: quote it to Steller support."""
        value: str | None = self.http_response.headers.get("x-request-id")
        return value

    @property
    def idempotent_replayed(self) -> bool:
        """``True`` when the server answered with the stored result of an earlier request
        carrying the same ``Idempotency-Key`` (``Idempotent-Replayed: true``)."""
        value: str = self.http_response.headers.get("idempotent-replayed", "")
        return value.strip().lower() == "true"

    @property
    def method(self) -> str:
        """The request's HTTP method."""
        return self.http_response.request.method

    @property
    def url(self) -> httpx.URL:
        """The request's URL."""
        return self.http_response.request.url

    def _parse_read(self) -> R:
        if self._parsed is _NO_RESULT:
            self._parsed = self._parser(self.http_response)
        return self._parsed

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} [{self.status_code}] {self.method} {self.url}"
            f" request_id={self.request_id!r} retries_taken={self.retries_taken}>"
        )


class APIResponse(BaseAPIResponse[R]):
    """A raw response from the sync client; ``parse()`` returns the model.

    A streamed response (``stream=True`` in the request layer) holds a connection open until
    it is read or closed: use it as a context manager.
    """

    def parse(self) -> R:
        """The structured result (the model the plain method returns); cached."""
        self.http_response.read()
        return self._parse_read()

    def read(self) -> bytes:
        """The whole body as bytes."""
        return self.http_response.read()

    def text(self) -> str:
        """The whole body decoded as text."""
        self.http_response.read()
        return self.http_response.text

    def json(self) -> Any:
        """The body decoded as JSON, untouched by the SDK's models (unknown fields included)."""
        self.http_response.read()
        return self.http_response.json()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Iterate over the (decoded) body in chunks."""
        return self.http_response.iter_bytes(chunk_size)

    def iter_lines(self) -> Iterator[str]:
        """Iterate over the body line by line."""
        return self.http_response.iter_lines()

    def close(self) -> None:
        """Release the connection (needed only for unread streamed responses)."""
        self.http_response.close()

    def __enter__(self) -> APIResponse[R]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncAPIResponse(BaseAPIResponse[R]):
    """A raw response from the async client; ``await parse()`` returns the model."""

    async def parse(self) -> R:
        """The structured result (the model the plain method returns); cached."""
        await self.http_response.aread()
        return self._parse_read()

    async def read(self) -> bytes:
        """The whole body as bytes."""
        return await self.http_response.aread()

    async def text(self) -> str:
        """The whole body decoded as text."""
        await self.http_response.aread()
        return self.http_response.text

    async def json(self) -> Any:
        """The body decoded as JSON, untouched by the SDK's models (unknown fields included)."""
        await self.http_response.aread()
        return self.http_response.json()

    def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Iterate over the (decoded) body in chunks."""
        return self.http_response.aiter_bytes(chunk_size)

    def iter_lines(self) -> AsyncIterator[str]:
        """Iterate over the body line by line."""
        return self.http_response.aiter_lines()

    async def close(self) -> None:
        """Release the connection (needed only for unread streamed responses)."""
        await self.http_response.aclose()

    async def __aenter__(self) -> AsyncAPIResponse[R]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def to_raw_response_wrapper(func: Callable[P, R]) -> Callable[P, APIResponse[R]]:
    """Turn a sync resource method into one returning :class:`APIResponse` of its result.

    ::

        class OrdersWithRawResponse:
            def __init__(self, orders: Orders) -> None:
                self.create = to_raw_response_wrapper(orders.create)
                self.get = to_raw_response_wrapper(orders.get)
    """

    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        token = _RAW_RESPONSE.set(True)
        try:
            return cast("APIResponse[R]", func(*args, **kwargs))
        finally:
            _RAW_RESPONSE.reset(token)

    return wrapped


def async_to_raw_response_wrapper(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[AsyncAPIResponse[R]]]:
    """Turn an async resource method into one returning :class:`AsyncAPIResponse`."""

    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> AsyncAPIResponse[R]:
        token = _RAW_RESPONSE.set(True)
        try:
            return cast("AsyncAPIResponse[R]", await func(*args, **kwargs))
        finally:
            _RAW_RESPONSE.reset(token)

    return wrapped
