"""Fixtures: a fresh simulator on a manual clock, reached in-process through ASGITransport."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from steller_sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    ManualClock,
    Simulator,
    SimulatorConfig,
    create_app,
)

BASE_URL = "http://bamboo.test"
CHECKOUT = "/api/integration/v1.0/orders/checkout"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(clock: ManualClock) -> SimulatorConfig:
    return SimulatorConfig(limits_enabled=False, clock=clock, timeout_hang_seconds=5.0)


@pytest.fixture
def app(config: SimulatorConfig) -> Starlette:
    return create_app(config)


@pytest.fixture
def sim(app: Starlette) -> Simulator:
    simulator: Simulator = app.state.simulator
    return simulator


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE_URL,
        auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
        headers={"Accept": "application/json"},
    ) as http:
        yield http


def new_request_id() -> str:
    return str(uuid.uuid4())


def line(product_id: int, value: float | str | Decimal, quantity: int = 1) -> dict[str, Any]:
    return {"ProductId": product_id, "Quantity": quantity, "Value": float(Decimal(str(value)))}


class Harness:
    """Small helpers over the in-process client (conftest is not importable in importlib mode)."""

    CHECKOUT = CHECKOUT

    def __init__(self, client: httpx.AsyncClient, sim: Simulator) -> None:
        self.client = client
        self.sim = sim

    new_request_id = staticmethod(new_request_id)
    line = staticmethod(line)

    def product_id(self, sku: str) -> int:
        return self.sim.catalog.by_sku[sku].id

    async def checkout(
        self,
        products: list[dict[str, Any]],
        *,
        account_id: int = 1001,
        request_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        body = {
            "RequestId": request_id or new_request_id(),
            "AccountId": account_id,
            "Products": products,
        }
        return await (client or self.client).post(CHECKOUT, json=body)

    async def get_order(self, request_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/integration/v1.0/orders/{request_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json(parse_float=Decimal)
        return data

    def other_client(self, app: Starlette, client_id: str, secret: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=(client_id, secret)
        )


@pytest.fixture
def bamboo(client: httpx.AsyncClient, sim: Simulator) -> Harness:
    return Harness(client, sim)
