"""Fixtures for worker/fulfilment tests: an in-process Bamboo simulator on a manual clock, a
vendor client bound to it, and a worker whose clock moves with the simulator's.

    async def test_x(sim, vendor, clocks, make_worker, shop): ...

``clocks.advance(seconds)`` moves the server clock and the simulator clock together, so
"Bamboo takes 30 s" is a clock move, never a sleep.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steller_sandbox import ManualClock, SimulatorConfig, create_app
from steller_sandbox.state import Simulator
from steller_server.api.contract import Contract
from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import orders
from steller_server.domain.models import Order, Partner
from steller_server.jobs.worker import Worker
from steller_server.sandbox_mode import TimeoutTransport
from steller_server.settings import Settings
from steller_server.vendor import BambooClient, BambooLimits, RetryPolicy
from tests.server.api.ops_kit import simulator_product

SIM_URL = "http://bamboo.test"


class Clocks:
    """The server clock (callable) and the simulator's ManualClock, moved together."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.sim = ManualClock(self.now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.sim.advance(seconds)


@pytest.fixture(scope="session")
def contract() -> Contract:
    """openapi.yaml parsed once per session (parsing takes seconds)."""
    return Contract.load()


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def sim_config(clocks: Clocks) -> SimulatorConfig:
    """Bamboo takes 2 s per order (slow: 30 s); limits off (the client's limiter is tested
    elsewhere); a hung checkout hangs 5 s, far past the 0.3 s client deadline."""
    return SimulatorConfig(
        latency=2.0,
        slow_seconds=30.0,
        limits_enabled=False,
        clock=clocks.sim,
        timeout_hang_seconds=5.0,
        scenario_retry_after_seconds=2,
    )


@pytest.fixture
def sim_app(sim_config: SimulatorConfig) -> Any:
    return create_app(sim_config)


@pytest.fixture
def sim(sim_app: Any) -> Simulator:
    simulator: Simulator = sim_app.state.simulator
    return simulator


@pytest.fixture
async def vendor(sim_app: Any) -> AsyncIterator[BambooClient]:
    transport = TimeoutTransport(httpx.ASGITransport(app=sim_app), timeout=0.3)
    client = BambooClient(
        SIM_URL,
        "steller-sandbox",
        "sandbox-secret",
        transport=transport,
        limits=BambooLimits(enabled=False),
        max_wait=0.1,
        retry=RetryPolicy(attempts=3, total_seconds=5.0, backoff_initial=0.01, backoff_max=0.02),
    )
    async with client:
        yield client


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.replace(bamboo_account_id=1001, bamboo_notification_secret="cb-secret")


@pytest.fixture
def make_worker(
    database: Database, job_settings: Settings, clocks: Clocks, vendor: BambooClient
) -> Callable[..., Worker]:
    def make(**kwargs: Any) -> Worker:
        options: dict[str, Any] = {
            "worker_id": f"w-{secrets.token_hex(3)}",
            "vendor": vendor,
            "clock": clocks,
            "concurrency": 4,
            "poll_interval": 0.05,
        }
        options.update(kwargs)
        return Worker(database, job_settings, **options)

    return make


@dataclasses.dataclass
class Shop:
    """Products from the simulator's catalog, a funded partner, and order placement."""

    database: Database
    settings: Settings
    sim: Simulator
    clocks: Clocks
    factory: Any

    async def products(self, *skus: str) -> dict[str, dict[str, Any]]:
        rows = {sku: simulator_product(self.sim, sku) for sku in skus}
        for row in rows.values():
            await self.factory.product(**row)
        return rows

    async def partner(self, *skus: str, balance: str = "1000.00", discount: str = "-5") -> Partner:
        await self.products(*skus)
        partner, _ = await self.factory.partner(
            balance=balance, approve=dict.fromkeys(skus, discount)
        )
        return partner

    async def order(
        self,
        partner: Partner,
        sku: str,
        face_value: str,
        quantity: int = 1,
        reference_id: str | None = None,
    ) -> Order:
        order, created = await orders.place_order(
            self.database,
            partner=partner,
            sku=sku,
            face_value=Decimal(face_value),
            quantity=quantity,
            reference_id=reference_id or secrets.token_hex(8),
            request_hash=secrets.token_hex(8),
            actor=f"partner:{partner.id}",
            order_fee=self.settings.order_fee,
            now=self.clocks(),
        )
        assert created
        return order

    async def get(self, order_id: str) -> Order:
        async with self.database.read() as conn:
            return await orders.get_order(conn, order_id=order_id)

    async def job(self, order_id: str) -> Any:
        async with self.database.read() as conn:
            return (
                (
                    await conn.execute(
                        select(jobs_table).where(
                            jobs_table.c.dedupe_key == f"fulfilment:{order_id}"
                        )
                    )
                )
                .mappings()
                .one()
            )


@pytest.fixture
def shop(
    database: Database, job_settings: Settings, sim: Simulator, clocks: Clocks, factory: Any
) -> Shop:
    return Shop(database, job_settings, sim, clocks, factory)
