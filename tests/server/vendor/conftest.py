"""The vendor client against the simulator served by uvicorn on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette

from steller_sandbox import Simulator, SimulatorConfig, create_app
from steller_sandbox.testing import serve_in_thread
from steller_server.vendor import BambooClient, BambooLimits, RetryPolicy

FAST_RETRY = RetryPolicy(attempts=4, total_seconds=20, backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        limits_enabled=False, timeout_hang_seconds=1.0, scenario_retry_after_seconds=1
    )


@pytest.fixture
def sim_app(sim_config: SimulatorConfig) -> Starlette:
    return create_app(sim_config)


@pytest.fixture
def sim(sim_app: Starlette) -> Simulator:
    simulator: Simulator = sim_app.state.simulator
    return simulator


@pytest.fixture
def sim_url(sim_app: Starlette) -> Iterator[str]:
    with serve_in_thread(sim_app) as url:
        yield url


@pytest.fixture
def client_limits() -> BambooLimits:
    return BambooLimits(enabled=False)


@pytest.fixture
async def bamboo(sim_url: str, client_limits: BambooLimits) -> AsyncIterator[BambooClient]:
    async with BambooClient(
        sim_url,
        "steller-sandbox",
        "sandbox-secret",
        limits=client_limits,
        retry=FAST_RETRY,
        timeout=5.0,
        max_wait=10.0,
    ) as client:
        yield client
