"""Raw responses (steller/_response.py): what ``with_raw_response`` gives a user."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import httpx

from steller._http import AsyncAPIClient, SyncAPIClient
from steller._response import (
    APIResponse,
    AsyncAPIResponse,
    async_to_raw_response_wrapper,
    to_raw_response_wrapper,
)


@dataclass(kw_only=True)
class Order:
    id: str
    total: Decimal


class Orders:
    """A resource written the way resource modules will be."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client

    def create(self, *, sku: str, idempotency_key: str | None = None) -> Order:
        return self._client.request(
            "POST",
            "/api/orders",
            json={"sku": sku},
            cast_to=Order,
            **({"idempotency_key": idempotency_key} if idempotency_key else {}),
        )


class AsyncOrders:
    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client

    async def create(self, *, sku: str) -> Order:
        return await self._client.request("POST", "/api/orders", json={"sku": sku}, cast_to=Order)


ORDER = {"id": "ord_1", "total": "52.50", "newField": "kept in json()"}


def test_raw_response_exposes_http_details_and_parses_to_the_model(helpers, sleeps):
    script = helpers.Script(
        helpers.problem(503),
        helpers.ok(
            ORDER, status=202, headers={"X-Request-Id": "req_7", "Idempotent-Replayed": "true"}
        ),
    )
    with helpers.sync_client(script) as client:
        raw = to_raw_response_wrapper(Orders(client).create)(sku="AMZ")
    assert isinstance(raw, APIResponse)
    assert raw.status_code == 202
    assert raw.headers["x-request-id"] == "req_7"
    assert raw.request_id == "req_7"
    assert raw.idempotency_key == script.requests[0].headers["Idempotency-Key"]
    assert raw.idempotent_replayed is True
    assert raw.retries_taken == 1
    assert isinstance(raw.elapsed, dt.timedelta)
    assert raw.method == "POST"
    assert raw.url.path == "/api/orders"
    assert isinstance(raw.http_response, httpx.Response)
    assert raw.parse() == Order(id="ord_1", total=Decimal("52.50"))
    assert raw.parse() is raw.parse()
    assert raw.json()["newField"] == "kept in json()"  # unknown fields stay reachable
    assert "req_7" in repr(raw)


def test_plain_calls_after_a_raw_call_return_models_again(helpers):
    script = helpers.Script(helpers.ok(ORDER))
    with helpers.sync_client(script) as client:
        orders = Orders(client)
        assert isinstance(to_raw_response_wrapper(orders.create)(sku="A"), APIResponse)
        assert isinstance(orders.create(sku="A"), Order)


def test_not_replayed_unless_the_server_says_so(helpers):
    script = helpers.Script(helpers.ok(ORDER))
    with helpers.sync_client(script) as client:
        raw = client.request_raw("POST", "/api/orders", json={}, cast_to=Order)
    assert raw.idempotent_replayed is False
    assert raw.retries_taken == 0


def test_streamed_response_is_read_lazily_and_closed_by_the_context_manager(helpers):
    chunks = [b"id,total\n", b"ord_1,52.50\n"]
    script = helpers.Script(
        lambda r: httpx.Response(200, stream=httpx.ByteStream(b"".join(chunks)))
    )
    with helpers.sync_client(script) as client:
        with client.request_raw("GET", "/api/exports/orders.csv", stream=True) as raw:
            assert not raw.http_response.is_closed
            assert list(raw.iter_lines()) == ["id,total", "ord_1,52.50"]
        assert raw.http_response.is_closed


async def test_async_raw_response(helpers):
    script = helpers.Script(helpers.ok(ORDER, headers={"X-Request-Id": "req_a"}))
    async with helpers.async_client(script) as client:
        raw = await async_to_raw_response_wrapper(AsyncOrders(client).create)(sku="A")
        assert isinstance(raw, AsyncAPIResponse)
        assert raw.request_id == "req_a"
        assert raw.idempotency_key is not None
        assert await raw.parse() == Order(id="ord_1", total=Decimal("52.50"))
        assert (await raw.json())["newField"] == "kept in json()"
        assert await AsyncOrders(client).create(sku="B") == Order(
            id="ord_1", total=Decimal("52.50")
        )


async def test_async_streamed_response(helpers):
    script = helpers.Script(lambda r: httpx.Response(200, content=b"a\nb\n"))
    async with helpers.async_client(script) as client:
        async with await client.request_raw("GET", "/export", stream=True) as raw:
            assert [line async for line in raw.iter_lines()] == ["a", "b"]
        assert raw.http_response.is_closed
