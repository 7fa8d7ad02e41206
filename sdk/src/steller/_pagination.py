"""Cursor pagination: ``{"data": [...], "nextCursor": "…" | null}`` with ``?limit=&cursor=``.

A list method returns the first page. Iterating over it walks *every* item of every page,
fetching the next page only when the current one is used up; the filters of the first call are
sent again with each page, only the cursor changes::

    for order in client.orders.list(status="completed", limit=100):
        handle(order)

    page = client.orders.list(limit=10)       # one page at a time
    while True:
        show(page.data)
        if not page.has_next_page():
            break
        page = page.next_page()

The async client's list methods can be awaited for the first page or iterated directly::

    async for order in client.orders.list(status="completed"):
        ...
    page = await client.orders.list(limit=10)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._config import RequestOptions

if TYPE_CHECKING:
    from ._http import AsyncAPIClient, SyncAPIClient

__all__ = ["AsyncPage", "AsyncPaginator", "PageRequest", "SyncPage"]

T = TypeVar("T")


@attrs.frozen
class PageRequest(Generic[T]):
    """Everything needed to fetch a page again: path, item type, filters, per-call options."""

    path: str
    item_type: type[T]
    params: Mapping[str, object] = attrs.field(factory=dict)
    options: RequestOptions | None = None

    def with_cursor(self, cursor: str) -> PageRequest[T]:
        """The same request for the page at ``cursor`` (filters and limit unchanged)."""
        return attrs.evolve(self, params={**self.params, "cursor": cursor})


class _BasePage(Generic[T]):
    def __init__(self, *, data: list[T], next_cursor: str | None, request: PageRequest[T]) -> None:
        #: The items of this page only.
        self.data = data
        #: The cursor of the next page, or ``None`` on the last page.
        self.next_cursor = next_cursor
        self._request = request

    def has_next_page(self) -> bool:
        """Whether another page follows this one."""
        return bool(self.next_cursor)

    def _next_request(self) -> PageRequest[T]:
        if not self.next_cursor:
            msg = "this is the last page; check has_next_page() before calling next_page()"
            raise RuntimeError(msg)
        return self._request.with_cursor(self.next_cursor)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._request.path} items={len(self.data)}"
            f" next_cursor={self.next_cursor!r}>"
        )


class SyncPage(_BasePage[T]):
    """One page of a list, from the sync client. Iterating yields the items of all pages."""

    def __init__(
        self,
        *,
        data: list[T],
        next_cursor: str | None,
        client: SyncAPIClient,
        request: PageRequest[T],
    ) -> None:
        super().__init__(data=data, next_cursor=next_cursor, request=request)
        self._client = client

    def next_page(self) -> SyncPage[T]:
        """Fetch the following page (raises ``RuntimeError`` on the last page)."""
        return self._client.fetch_page(self._next_request())

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        """This page, then each following page, fetched lazily."""
        page = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(_BasePage[T]):
    """One page of a list, from the async client. ``async for`` yields the items of all pages."""

    def __init__(
        self,
        *,
        data: list[T],
        next_cursor: str | None,
        client: AsyncAPIClient,
        request: PageRequest[T],
    ) -> None:
        super().__init__(data=data, next_cursor=next_cursor, request=request)
        self._client = client

    async def next_page(self) -> AsyncPage[T]:
        """Fetch the following page (raises ``RuntimeError`` on the last page)."""
        return await self._client.fetch_page(self._next_request())

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page, then each following page, fetched lazily."""
        page = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPaginator(Generic[T]):
    """What an async list method returns: await it for the first page, or ``async for`` it
    for every item of every page. Nothing is sent until then."""

    def __init__(self, *, client: AsyncAPIClient, request: PageRequest[T]) -> None:
        self._client = client
        self._request = request

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._client.fetch_page(self._request).__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self
        async for item in page:
            yield item
