"""Helpers for the operations route tests: an in-process Bamboo simulator and a vendor client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from steller_sandbox import SimulatorConfig, create_app
from steller_sandbox.state import Simulator
from steller_sandbox.views import brand_json
from steller_server.jobs.catalog_sync import product_row
from steller_server.sandbox_mode import TimeoutTransport
from steller_server.vendor import BambooClient, BambooLimits, Brand, RetryPolicy


def sim_brands(sim: Simulator) -> list[Brand]:
    """The simulator's catalogue as the vendor client parses it."""
    return [Brand.from_wire(brand_json(sim, b)) for b in sim.catalog.brands]


def simulator_product(sim: Simulator, sku: str) -> dict[str, Any]:
    """Our ``products`` row for a simulator SKU, exactly as catalog sync would write it."""
    for brand in sim_brands(sim):
        for product in brand.products:
            if product.sku == sku:
                row = product_row(brand, product)
                assert row is not None
                return row
    raise LookupError(sku)


@contextlib.asynccontextmanager
async def sim_vendor(
    config: SimulatorConfig | None = None,
    client_id: str = "steller-sandbox",
    secret: str = "sandbox-secret",
) -> AsyncIterator[tuple[Simulator, BambooClient]]:
    app: Any = create_app(config or SimulatorConfig(limits_enabled=False))
    client = BambooClient(
        "http://bamboo.test",
        client_id,
        secret,
        transport=TimeoutTransport(httpx.ASGITransport(app=app), timeout=2.0),
        limits=BambooLimits(enabled=False),
        max_wait=0.1,
        retry=RetryPolicy(attempts=2, total_seconds=2.0, backoff_initial=0.01, backoff_max=0.02),
    )
    async with client:
        yield app.state.simulator, client
