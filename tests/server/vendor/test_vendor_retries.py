"""Retries: 429 waits, 5xx retries with the same RequestId, and the checkout timeout path."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from steller_sandbox.testing import free_port
from steller_server.vendor import (
    BambooClient,
    BambooLimits,
    OrderLine,
    RetryPolicy,
    VendorOrder,
    VendorRateLimited,
    VendorUnavailable,
)


def _magic(sim, value: str) -> list[OrderLine]:
    return [OrderLine(sim.catalog.by_sku["AMZ-US-VAR"].id, 1, Decimal(value))]


def _attempts(sim, request_id: str) -> int:
    return sim.checkout_attempts[request_id]


async def test_429_is_waited_out_then_retried(bamboo, sim):
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    assert await bamboo.place_order(request_id, 1001, _magic(sim, "42.90")) == request_id
    assert time.monotonic() - started >= 1.0  # "Please wait for 1 seconds."
    assert _attempts(sim, request_id) == 2
    assert sim.order_count(request_id) == 1


async def test_429_longer_than_max_wait_raises_without_retrying(sim_url, sim):
    request_id = str(uuid.uuid4())
    async with BambooClient(
        sim_url,
        "steller-sandbox",
        "sandbox-secret",
        limits=BambooLimits(enabled=False),
        max_wait=0.5,
    ) as impatient:
        with pytest.raises(VendorRateLimited) as info:
            await impatient.place_order(request_id, 1001, _magic(sim, "42.90"))
    assert info.value.retry_after == 1
    assert _attempts(sim, request_id) == 1


async def test_burst_of_429s_on_reads_is_retried(bamboo, sim):
    sim.faults.burst_429 = 2
    sim.faults.burst_429_seconds = 0
    assert await bamboo.get_accounts()
    assert [r.status_code for r in sim.request_log] == [429, 429, 200]


async def test_5xx_on_checkout_is_retried_with_the_same_request_id(bamboo, sim):
    request_id = str(uuid.uuid4())
    assert await bamboo.place_order(request_id, 1001, _magic(sim, "50.30")) == request_id
    assert _attempts(sim, request_id) == 2
    assert sim.order_count(request_id) == 1


async def test_persistent_5xx_gives_up_after_the_policy(bamboo, sim):
    sim.faults.error_rate = 1.0
    with pytest.raises(VendorUnavailable) as reads:
        await bamboo.get_accounts()
    assert reads.value.status_code == 503
    assert len(sim.request_log) == 4  # FAST_RETRY.attempts
    request_id = str(uuid.uuid4())
    with pytest.raises(VendorUnavailable) as checkout:
        await bamboo.place_order(request_id, 1001, _magic(sim, "20"))
    assert checkout.value.outcome_unknown
    assert sim.order_count(request_id) == 0


async def test_connect_errors_are_retried_and_known_not_to_have_reached_bamboo(sim):
    async with BambooClient(
        f"http://127.0.0.1:{free_port()}",
        "steller-sandbox",
        "sandbox-secret",
        limits=BambooLimits(enabled=False),
        retry=RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.01),
    ) as offline:
        with pytest.raises(VendorUnavailable) as info:
            await offline.place_order(uuid.uuid4(), 1001, _magic(sim, "20"))
    assert not info.value.outcome_unknown


async def test_timeout_on_checkout_then_order_already_exists_then_fetch(sim_url, sim):
    request_id = str(uuid.uuid4())
    async with BambooClient(
        sim_url,
        "steller-sandbox",
        "sandbox-secret",
        limits=BambooLimits(enabled=False),
        timeout=0.25,
        retry=RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.02),
    ) as bamboo:
        result = await bamboo.place_order(request_id, 1001, _magic(sim, "40.80"))
    assert isinstance(result, VendorOrder)
    assert result.request_id == request_id
    assert _attempts(sim, request_id) == 2
    assert sim.order_count(request_id) == 1
    charges = [t for t in sim.transactions if t.order.request_id == request_id]
    assert len(charges) == 1
