"""client.orders (steller/_resources/orders.py): create_and_wait polling with backoff and its
typed timeout, money arguments, idempotency keys, and pagination through a resource."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

import steller
from steller import AsyncSteller, OrderWaitTimeout, Steller
from steller.models import Order, OrderStatus
from steller.testing import instant_retries

BASE_URL = "https://api.steller.test"
ORD = "ord_7Yq2LmN4pR8sT1vW"


def order_json(status: str = "processing", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ORD,
        "referenceId": "cart-1234",
        "status": status,
        "sku": "AMZ-US",
        "productName": "Amazon US",
        "brandName": "Amazon",
        "faceValue": "50.00",
        "faceCurrency": "USD",
        "quantity": 1,
        "quantityFulfilled": 1 if status == "completed" else 0,
        "unitPrice": "52.50",
        "total": "52.50",
        "refundedAmount": "0.00",
        "currency": "USD",
        "failureReason": None,
        "createdAt": "2026-11-03T10:00:00Z",
        "updatedAt": "2026-11-03T10:00:05Z",
        "completedAt": "2026-11-03T10:00:05Z" if status != "processing" else None,
    }
    body.update(extra)
    return body


class OrderServer:
    """POST /api/orders answers processing; each GET answers the next status of ``statuses``
    (the last one repeats)."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.method == "POST":
            return httpx.Response(202, json=order_json())
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        extra = {}
        if status == "completed":
            extra["cards"] = [
                {"serialNumber": "SN1", "code": "AMZ-CODE", "pin": None, "expiresAt": None}
            ]
        return httpx.Response(200, json=order_json(status, **extra))


def sync_client(server: OrderServer) -> Steller:
    return Steller(api_key="stlr_test_k", base_url=BASE_URL, transport=httpx.MockTransport(server))


def async_client(server: OrderServer) -> AsyncSteller:
    return AsyncSteller(
        api_key="stlr_test_k", base_url=BASE_URL, transport=httpx.MockTransport(server)
    )


ORDER_ARGS: dict[str, Any] = {
    "sku": "AMZ-US",
    "face_value": "50.00",
    "quantity": 1,
    "reference_id": "cart-1234",
}


def test_create_and_wait_polls_until_a_final_status_and_returns_the_order_with_cards():
    server = OrderServer("processing", "processing", "completed")
    with sync_client(server) as client, instant_retries() as sleeps:
        order = client.orders.create_and_wait(**ORDER_ARGS, poll_interval=1.0)
    assert order.status == OrderStatus.completed
    assert order.cards is not None
    assert order.cards[0].code == "AMZ-CODE"
    assert [r.method for r in server.requests] == ["POST", "GET", "GET", "GET"]
    assert all(r.url.path == f"/api/orders/{ORD}" for r in server.requests[1:])
    # Intervals grow by half from poll_interval: no real sleeping happened in this test.
    assert sleeps == [1.0, 1.5, 2.25]


def test_create_and_wait_caps_the_poll_interval():
    server = OrderServer(*["processing"] * 6, "failed")
    with sync_client(server) as client, instant_retries() as sleeps:
        order = client.orders.create_and_wait(
            **ORDER_ARGS, poll_interval=2.0, max_poll_interval=3.0, timeout=600
        )
    assert order.status == "failed"
    assert sleeps == [2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]


@pytest.mark.parametrize("final", ["completed", "partially_completed", "failed", "cancelled"])
def test_create_and_wait_stops_at_every_final_status(final):
    server = OrderServer(final)
    with sync_client(server) as client, instant_retries():
        order = client.orders.create_and_wait(**ORDER_ARGS)
    assert order.status == final
    assert len(server.requests) == 2


def test_create_and_wait_returns_at_once_when_the_create_answer_is_already_final():
    """The same referenceId sent again answers with the existing (final) order: no polling."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=order_json("completed"))

    with (
        Steller(api_key="k", base_url=BASE_URL, transport=httpx.MockTransport(handler)) as client,
        instant_retries() as sleeps,
    ):
        order = client.orders.create_and_wait(**ORDER_ARGS)
    assert order.status == "completed"
    assert sleeps == []


def test_create_and_wait_raises_a_typed_timeout_carrying_the_last_order():
    server = OrderServer("processing")
    with (
        sync_client(server) as client,
        instant_retries() as sleeps,
        pytest.raises(OrderWaitTimeout) as caught,
    ):
        client.orders.create_and_wait(**ORDER_ARGS, timeout=10, poll_interval=2)
    err = caught.value
    assert isinstance(err, steller.StellerError)
    assert isinstance(err.order, Order)
    assert err.order.id == ORD
    assert err.order.status == "processing"
    assert err.timeout == 10
    assert ORD in str(err)
    # The waits fill the budget exactly, the last one shortened to fit: 2 + 3 + 4.5 + 0.5.
    assert sleeps == [2.0, 3.0, 4.5, 0.5]
    assert sum(sleeps) == 10


def test_create_and_wait_sends_one_idempotency_key_on_create_and_none_on_polls():
    server = OrderServer("processing", "completed")
    with sync_client(server) as client, instant_retries():
        client.orders.create_and_wait(**ORDER_ARGS, idempotency_key="my-key-1")
    assert server.requests[0].headers["idempotency-key"] == "my-key-1"
    assert all("idempotency-key" not in r.headers for r in server.requests[1:])


def test_create_and_wait_refuses_a_nonsense_schedule():
    with (
        sync_client(OrderServer("completed")) as client,
        pytest.raises(ValueError, match="interval"),
    ):
        client.orders.create_and_wait(**ORDER_ARGS, poll_interval=0)


async def test_async_create_and_wait_polls_then_returns():
    server = OrderServer("processing", "partially_completed")
    async with async_client(server) as client:
        with instant_retries() as sleeps:
            order = await client.orders.create_and_wait(**ORDER_ARGS, poll_interval=0.5)
    assert order.status == OrderStatus.partially_completed
    assert sleeps == [0.5, 0.75]


async def test_async_create_and_wait_times_out_with_the_last_order():
    server = OrderServer("processing")
    async with async_client(server) as client:
        with instant_retries(), pytest.raises(OrderWaitTimeout) as caught:
            await client.orders.create_and_wait(**ORDER_ARGS, timeout=3)
    assert caught.value.order.status == "processing"


@pytest.mark.parametrize("bad", [50.0, True, None])
def test_money_arguments_refuse_floats_and_non_numbers(bad):
    with (
        sync_client(OrderServer("completed")) as client,
        pytest.raises(TypeError, match="face_value"),
    ):
        client.orders.create(sku="AMZ-US", face_value=bad, quantity=1, reference_id="r")


def test_money_arguments_refuse_malformed_decimals_before_sending():
    server = OrderServer("completed")
    with sync_client(server) as client, pytest.raises(ValueError, match="face_value"):
        client.orders.create(sku="AMZ-US", face_value="fifty", quantity=1, reference_id="r")
    assert server.requests == []


def test_money_keeps_the_callers_scale_on_the_wire():
    server = OrderServer("completed")
    with sync_client(server) as client:
        client.orders.create(
            sku="AMZ-US",
            face_value=Decimal("50.10"),
            quantity=1,
            reference_id="r",
            expected_total=53,
        )
    body = json.loads(server.requests[0].content)
    assert body["faceValue"] == "50.10"
    assert body["expectedTotal"] == "53"


def test_every_create_carries_a_fresh_idempotency_key_unless_opted_out():
    server = OrderServer("completed")
    with sync_client(server) as client:
        client.orders.create(**ORDER_ARGS)
        client.orders.create(**ORDER_ARGS)
        client.orders.create(**ORDER_ARGS, idempotency_key=None)
    first, second, third = (r.headers.get("idempotency-key") for r in server.requests)
    assert first
    assert second
    assert first != second
    assert third is None


def test_ids_are_percent_encoded_into_the_path():
    server = OrderServer("completed")
    with sync_client(server) as client:
        client.orders.get("ord_1/../../admin")
    assert server.requests[0].url.raw_path == b"/api/orders/ord_1%2F..%2F..%2Fadmin"


PAGES = {
    None: {"data": [order_json(), order_json()], "nextCursor": "c2"},
    "c2": {"data": [order_json()], "nextCursor": None},
}


def paged(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=PAGES[request.url.params.get("cursor")])


def test_orders_list_walks_every_page_carrying_the_filters():
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return paged(request)

    with Steller(api_key="k", base_url=BASE_URL, transport=httpx.MockTransport(handler)) as client:
        orders = list(client.orders.list(status="processing", limit=2))
    assert len(orders) == 3
    assert [dict(r.url.params) for r in requests] == [
        {"status": "processing", "limit": "2"},
        {"status": "processing", "limit": "2", "cursor": "c2"},
    ]


async def test_async_orders_list_walks_every_page_carrying_the_filters():
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return paged(request)

    async with AsyncSteller(
        api_key="k", base_url=BASE_URL, transport=httpx.MockTransport(handler)
    ) as client:
        orders = [order async for order in client.orders.list(sku="AMZ-US")]
        first_page = await client.orders.list(sku="AMZ-US")
    assert len(orders) == 3
    assert len(first_page.data) == 2
    assert first_page.has_next_page()
    assert dict(requests[1].url.params) == {"sku": "AMZ-US", "cursor": "c2"}


def test_catalog_iter_yields_every_product_lazily():
    product = {
        "sku": "AMZ-US",
        "name": "Amazon US",
        "brandName": "Amazon",
        "countryCode": "US",
        "categories": ["shopping"],
        "faceCurrency": "USD",
        "denominationType": "range",
        "minFaceValue": "5.00",
        "maxFaceValue": "500.00",
        "currency": "USD",
        "discountPercent": "-5",
        "unitPriceMin": "5.25",
        "unitPriceMax": "525.00",
        "inStock": True,
        "stock": None,
        "redemptionInstructions": None,
        "terms": None,
        "logoUrl": None,
    }
    pages = {
        None: {"data": [product], "nextCursor": "n"},
        "n": {"data": [{**product, "sku": "AMZ-UK"}], "nextCursor": None},
    }
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    with Steller(api_key="k", base_url=BASE_URL, transport=httpx.MockTransport(handler)) as client:
        products = client.catalog.iter(country="US")
        assert requests == []  # nothing is fetched until iteration starts
        assert [p.sku for p in products] == ["AMZ-US", "AMZ-UK"]
    assert [r.url.params.get("country") for r in requests] == ["US", "US"]
