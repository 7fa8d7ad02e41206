"""Notification config and the legacy callback POST, received by a real loopback server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steller_sandbox import SimulatorConfig, create_app
from steller_sandbox.testing import serve_in_thread

NOTIFICATION = "/api/Integration/v1/notification"


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.received = threading.Event()
        self.status_code = 200

    async def endpoint(self, request: Request) -> Response:
        self.calls.append({"path": request.url.path, "body": await request.json()})
        self.received.set()
        return Response(status_code=self.status_code)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks/{env}", receiver.endpoint, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield receiver, url


async def test_notification_config_round_trips_and_echoes(client):
    config = {
        "notificationUrl": "https://partner.example/bamboo",
        "notificationUrlSandbox": "https://partner.example/bamboo-sandbox",
        "secretKey": "8b9e4c1e-3f0e-4e0f-9d8a-2f1f3f6e9c11",
    }
    posted = await client.post(NOTIFICATION, json=config)
    assert posted.status_code == 200
    assert posted.json() == config
    assert (await client.get(NOTIFICATION)).json() == config


async def test_final_status_is_posted_to_the_sandbox_url(bamboo, client, sim, clock, receiver):
    hooks, url = receiver
    await client.post(
        NOTIFICATION,
        json={
            "notificationUrl": f"{url}/hooks/production",
            "notificationUrlSandbox": f"{url}/hooks/sandbox",
            "secretKey": "s3cret",
        },
    )
    ok, fail = bamboo.new_request_id(), bamboo.new_request_id()
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-OK-10"), 10, 2)], request_id=ok)
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-FAIL-10"), 10)], request_id=fail)
    await sim.tick()
    by_request = {c["body"]["requestId"]: c for c in hooks.calls}
    assert set(by_request) == {ok, fail}
    body = by_request[ok]["body"]
    assert by_request[ok]["path"] == "/hooks/sandbox"
    assert body["status"] == "succeeded"
    assert body["secretKey"] == "s3cret"
    assert body["totalCards"] == 2
    assert set(body) == {
        "orderId",
        "status",
        "totalCards",
        "createdOn",
        "completedOn",
        "secretKey",
        "requestId",
    }
    assert by_request[fail]["body"]["status"] == "failed"
    await sim.tick()
    assert len(hooks.calls) == 2  # one callback per order, never repeated


async def test_empty_url_turns_callbacks_off(bamboo, client, sim, receiver):
    hooks, url = receiver
    await client.post(
        NOTIFICATION, json={"notificationUrl": f"{url}/hooks/production", "secretKey": "x"}
    )
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-OK-10"), 10)])
    await sim.tick()
    assert hooks.calls == []  # sandbox URL empty
    assert sim.callback_log == []


async def test_delivery_errors_are_swallowed_and_logged(bamboo, client, sim, caplog):
    await client.post(
        NOTIFICATION, json={"notificationUrlSandbox": "http://127.0.0.1:9/nothing-listens"}
    )
    request_id = bamboo.new_request_id()
    await bamboo.checkout([bamboo.line(bamboo.product_id("SIM-OK-10"), 10)], request_id=request_id)
    await sim.tick()
    [entry] = sim.callback_log
    assert entry["error"]
    assert entry["status_code"] is None
    assert "callback" in caplog.text
    assert (await bamboo.get_order(request_id))["status"] == "Succeeded"


async def test_served_alone_the_background_ticker_sends_callbacks_without_polling(receiver):
    hooks, hook_url = receiver
    app = create_app(SimulatorConfig(limits_enabled=False, latency=0.05, tick_interval=0.01))
    product = app.state.simulator.catalog.by_sku["SIM-OK-10"]
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(base_url=url, auth=("steller-sandbox", "sandbox-secret")) as h:
            await h.post(NOTIFICATION, json={"notificationUrlSandbox": f"{hook_url}/hooks/sandbox"})
            body = {
                "RequestId": "71ac2817-6f3c-4a53-9f5a-1e9c3c0d6f10",
                "AccountId": 1001,
                "Products": [{"ProductId": product.id, "Quantity": 1, "Value": 10}],
            }
            assert (await h.post("/api/integration/v1.0/orders/checkout", json=body)).is_success
            assert await asyncio.to_thread(hooks.received.wait, 5.0)
    assert hooks.calls[0]["body"]["requestId"] == body["RequestId"]
