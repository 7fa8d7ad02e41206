"""Cursor pagination (steller/_pagination.py): pages, lazy iteration over every item, filters
carried forward with only the cursor changing; sync and async."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from steller._config import RequestOptions
from steller._errors import APIResponseValidationError, NotFoundError
from steller._pagination import AsyncPage, SyncPage
from steller._response import (
    APIResponse,
    AsyncAPIResponse,
    async_to_raw_response_wrapper,
    to_raw_response_wrapper,
)


@dataclass(kw_only=True)
class Txn:
    id: str


PAGES = {
    None: {"data": [{"id": "t1"}, {"id": "t2"}], "nextCursor": "c2"},
    "c2": {"data": [{"id": "t3"}, {"id": "t4"}], "nextCursor": "c3"},
    "c3": {"data": [{"id": "t5"}], "nextCursor": None},
}


def paged(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=PAGES[request.url.params.get("cursor")])


FILTERS = {"type": "debit", "limit": 2, "since": None}


def test_first_page_holds_its_data_and_cursor(helpers):
    script = helpers.Script(paged)
    with helpers.sync_client(script) as client:
        page = client.get_page("/api/wallet/transactions", item_type=Txn, params=FILTERS)
    assert isinstance(page, SyncPage)
    assert page.data == [Txn(id="t1"), Txn(id="t2")]
    assert page.next_cursor == "c2"
    assert page.has_next_page()


def test_iterating_a_page_yields_every_item_of_every_page(helpers):
    script = helpers.Script(paged)
    with helpers.sync_client(script) as client:
        page = client.get_page("/api/wallet/transactions", item_type=Txn, params=FILTERS)
        assert [t.id for t in page] == ["t1", "t2", "t3", "t4", "t5"]


def test_filters_are_carried_forward_and_only_the_cursor_changes(helpers):
    script = helpers.Script(paged)
    with helpers.sync_client(script) as client:
        list(client.get_page("/api/wallet/transactions", item_type=Txn, params=FILTERS))
    assert [r.url.path for r in script.requests] == ["/api/wallet/transactions"] * 3
    assert [r.url.params.multi_items() for r in script.requests] == [
        [("type", "debit"), ("limit", "2")],
        [("type", "debit"), ("limit", "2"), ("cursor", "c2")],
        [("type", "debit"), ("limit", "2"), ("cursor", "c3")],
    ]


def test_pages_are_fetched_lazily(helpers):
    script = helpers.Script(paged)
    with helpers.sync_client(script) as client:
        items = iter(client.get_page("/x", item_type=Txn))
        assert [next(items).id, next(items).id] == ["t1", "t2"]
        assert script.count == 1
        assert next(items).id == "t3"
        assert script.count == 2


def test_next_page_walks_pages_one_at_a_time_until_the_last(helpers):
    script = helpers.Script(paged)
    with helpers.sync_client(script) as client:
        page = client.get_page("/x", item_type=Txn)
        seen = [page.data]
        while page.has_next_page():
            page = page.next_page()
            seen.append(page.data)
        assert [len(d) for d in seen] == [2, 2, 1]
        with pytest.raises(RuntimeError, match="last page"):
            page.next_page()
        assert [len(p.data) for p in client.get_page("/x", item_type=Txn).iter_pages()] == [2, 2, 1]


def test_an_empty_list_is_one_empty_page(helpers):
    script = helpers.Script(helpers.ok({"data": [], "nextCursor": None}))
    with helpers.sync_client(script) as client:
        page = client.get_page("/x", item_type=Txn)
        assert page.data == []
        assert list(page) == []
        assert not page.has_next_page()


def test_per_call_options_apply_to_later_pages_too(helpers):
    script = helpers.Script(paged)
    opts = RequestOptions(extra_headers={"X-Trace": "t"})
    with helpers.sync_client(script) as client:
        list(client.get_page("/x", item_type=Txn, options=opts))
    assert script.header("X-Trace") == ["t", "t", "t"]


def test_a_body_that_is_not_a_page_is_a_response_validation_error(helpers):
    script = helpers.Script(helpers.ok({"items": []}))
    with helpers.sync_client(script) as client, pytest.raises(APIResponseValidationError):
        client.get_page("/x", item_type=Txn)


def test_an_error_on_a_later_page_surfaces_while_iterating(helpers):
    script = helpers.Script(helpers.ok(PAGES[None]), helpers.problem(404, "not_found"))
    with helpers.sync_client(script) as client:
        items = iter(client.get_page("/x", item_type=Txn))
        next(items), next(items)
        with pytest.raises(NotFoundError):
            next(items)


def test_raw_response_of_a_list_parses_to_the_page(helpers):
    script = helpers.Script(helpers.ok(PAGES[None], headers={"X-Request-Id": "req_p"}))
    with helpers.sync_client(script) as client:
        raw = to_raw_response_wrapper(client.get_page)("/x", item_type=Txn)
        assert isinstance(raw, APIResponse)
        assert raw.request_id == "req_p"
        page = raw.parse()
        assert isinstance(page, SyncPage)
        assert page.next_cursor == "c2"


# -- async --------------------------------------------------------------------------------------


async def test_async_for_over_a_list_call_yields_every_item(helpers):
    script = helpers.Script(paged)
    async with helpers.async_client(script) as client:
        ids = [t.id async for t in client.get_page("/x", item_type=Txn, params=FILTERS)]
    assert ids == ["t1", "t2", "t3", "t4", "t5"]
    assert [r.url.params.get("cursor") for r in script.requests] == [None, "c2", "c3"]
    assert all(r.url.params.get("type") == "debit" for r in script.requests)


async def test_awaiting_a_list_call_gives_the_first_page(helpers):
    script = helpers.Script(paged)
    async with helpers.async_client(script) as client:
        paginator = client.get_page("/x", item_type=Txn)
        assert script.count == 0  # nothing sent until awaited or iterated
        page = await paginator
        assert isinstance(page, AsyncPage)
        assert page.data == [Txn(id="t1"), Txn(id="t2")]
        second = await page.next_page()
        assert [t.id for t in second.data] == ["t3", "t4"]
        assert [t.id async for t in second] == ["t3", "t4", "t5"]
        pages = [p async for p in page.iter_pages()]
        assert [len(p.data) for p in pages] == [2, 2, 1]
        with pytest.raises(RuntimeError):
            await pages[-1].next_page()


async def test_async_pages_are_fetched_lazily(helpers):
    script = helpers.Script(paged)
    async with helpers.async_client(script) as client:
        async for txn in client.get_page("/x", item_type=Txn):
            assert txn.id == "t1"
            break
    assert script.count == 1


async def test_async_raw_response_of_a_list(helpers):
    script = helpers.Script(paged)
    async with helpers.async_client(script) as client:

        async def list_txns() -> AsyncPage[Txn]:
            return await client.get_page("/x", item_type=Txn)

        raw = await async_to_raw_response_wrapper(list_txns)()
        assert isinstance(raw, AsyncAPIResponse)
        page = await raw.parse()
        assert [t.id async for t in page] == ["t1", "t2", "t3", "t4", "t5"]
