"""One slow partner never delays another: a hung endpoint holds one worker slot at a time."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import jobs, webhooks
from steller_server.jobs.delivery import (
    CLIENT_KEY,
    CONFIG_KEY,
    GATE_KEY,
    DeliveryConfig,
    EndpointGate,
)
from steller_server.jobs.worker import Worker
from tests.server.webhooks.webhook_support import HANG, Receiver


class PeakGate(EndpointGate):
    """Records the most deliveries ever in flight per endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.peak: dict[str, int] = {}

    def _try_enter(self, key: str, config: DeliveryConfig) -> bool:
        entered = super()._try_enter(key, config)
        self.peak[key] = max(self.peak.get(key, 0), self.in_flight(key))
        return entered


async def _endpoint(api: httpx.AsyncClient, factory, partner_key, url: str) -> tuple[str, dict]:
    partner, _ = await factory.partner()
    headers = {"x-api-key": await partner_key(partner)}
    assert (
        await api.put("/api/partner/webhook", json={"url": url}, headers=headers)
    ).status_code == 201
    return partner.id, headers


async def test_a_hung_endpoint_takes_one_slot_and_others_are_delivered(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    database: Database,
    settings,
    clock,
) -> None:
    hung, healthy = Receiver(default=200), Receiver()
    hung.plan = [HANG] * 50
    try:
        slow_id, _ = await _endpoint(api, factory, partner_key, hung.url())
        fast_id, _ = await _endpoint(api, factory, partner_key, healthy.url())
        for _ in range(6):  # the hung partner's events first: they are claimed first
            await webhooks.send_test_event(database, partner_id=slow_id, now=clock())
        for _ in range(6):
            await webhooks.send_test_event(database, partner_id=fast_id, now=clock())
        gate = PeakGate()
        extras: dict[str, object] = {
            CONFIG_KEY: DeliveryConfig(timeout=1.0, probe_wait=5.0),
            GATE_KEY: gate,
        }
        worker = Worker(
            database,
            settings,
            kinds=[jobs.WEBHOOK_DELIVERY],
            clock=clock,
            concurrency=4,
            extras=extras,
        )
        await worker.run_until_idle()
        await extras[CLIENT_KEY].aclose()  # type: ignore[attr-defined]

        assert gate.peak[slow_id] == 1  # never more than one attempt in flight
        assert gate.peak[fast_id] >= 2  # the healthy one used the free slots
        assert 1 <= len(hung.requests) < 6  # the rest were put back, not attempted
        assert healthy.wait_for(6)
        assert len(healthy.requests) == 6
        async with database.read() as conn:
            slow = await webhooks.list_events(conn, partner_id=slow_id, now=clock())
            fast = await webhooks.list_events(conn, partner_id=fast_id, now=clock())
        assert {v.event.delivery_status for v in fast.data} == {"delivered"}
        timed_out = [a for v in slow.data for a in v.attempts]
        assert len(timed_out) == len(hung.requests)
        assert {(a.status_code, a.error) for a in timed_out} == {(None, "timeout after 1 s")}
    finally:
        hung.close()
        healthy.close()


async def test_gate_waits_for_an_unproven_endpoint_then_opens_up() -> None:
    config = DeliveryConfig(probe_wait=5.0)
    gate = EndpointGate()
    assert await gate.enter("p", config)  # the probe
    waiter = asyncio.ensure_future(gate.enter("p", config))
    await asyncio.sleep(0)
    assert not waiter.done()  # waits for the probe's verdict
    gate.leave("p", healthy=True)
    assert await asyncio.wait_for(waiter, 1.0)
    assert all([await gate.enter("p", config) for _ in range(20)])  # healthy: no cap
    assert gate.in_flight("p") == 21

    gate.degrade("q")
    assert await gate.enter("q", config)
    assert not await gate.enter("q", config)  # degraded: one slot, no waiting
    gate.leave("q", healthy=False)
    assert gate.in_flight("q") == 0


async def test_an_unproven_endpoint_s_backlog_is_not_pushed_back_while_its_probe_runs(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    database: Database,
    settings,
    clock,
) -> None:
    """A fresh worker's first delivery to an endpoint (the probe) is still running: other jobs for
    it come back within seconds, not ``defer_base`` later (a slow probe on a fresh worker used to
    push a healthy partner's whole backlog back by 30 s, then more)."""
    receiver = Receiver()
    try:
        partner_id, _ = await _endpoint(api, factory, partner_key, receiver.url())
        for _ in range(5):
            await webhooks.send_test_event(database, partner_id=partner_id, now=clock())
        config = DeliveryConfig(probe_wait=0.0, slow_after=60.0)
        gate = EndpointGate()
        assert await gate.enter(partner_id, config)  # a probe in flight, no verdict yet
        extras: dict[str, object] = {CONFIG_KEY: config, GATE_KEY: gate}
        worker = Worker(
            database,
            settings,
            kinds=[jobs.WEBHOOK_DELIVERY],
            clock=clock,
            concurrency=5,
            extras=extras,
        )
        assert await worker.run_until_idle() == 5
        assert receiver.requests == []
        async with database.read() as conn:
            queued = (
                await conn.execute(
                    select(jobs_table.c.run_at, jobs_table.c.payload).where(
                        jobs_table.c.kind == jobs.WEBHOOK_DELIVERY
                    )
                )
            ).all()
        assert len(queued) == 5
        assert all(run_at <= clock() + 2 * config.probe_retry for run_at, _ in queued)
        assert all("deferrals" not in payload for _, payload in queued)

        gate.leave(partner_id, healthy=True)  # the probe answered fast
        clock.advance(seconds=2 * config.probe_retry.total_seconds())
        assert await worker.run_until_idle() == 5
        assert receiver.wait_for(5)
        client = extras.get(CLIENT_KEY)
        if client is not None:
            await client.aclose()  # type: ignore[attr-defined]
    finally:
        receiver.close()


async def test_a_redelivery_is_not_parked_behind_a_degraded_endpoint_s_backoff(
    api: httpx.AsyncClient,
    factory,
    partner_key,
    database: Database,
    settings,
    clock,
) -> None:
    """After an outage a worker may still hold the endpoint as degraded, with a backoff grown to
    minutes. A redelivery the partner asks for comes back within seconds (never ``defer_base``
    later), and the endpoint's other jobs being pushed back do not take it along."""
    receiver = Receiver()
    try:
        partner_id, _ = await _endpoint(api, factory, partner_key, receiver.url())
        events = [
            await webhooks.send_test_event(database, partner_id=partner_id, now=clock())
            for _ in range(3)
        ]
        for event in events:
            await webhooks.redeliver(
                database, event_id=event.event.id, partner_id=partner_id, now=clock()
            )
        config = DeliveryConfig(probe_wait=0.0)
        gate = EndpointGate()
        gate.degrade(partner_id)
        assert await gate.enter(partner_id, config)  # the one slot is busy (a hung attempt)
        extras: dict[str, object] = {CONFIG_KEY: config, GATE_KEY: gate}
        worker = Worker(
            database,
            settings,
            kinds=[jobs.WEBHOOK_DELIVERY],
            clock=clock,
            concurrency=6,
            extras=extras,
        )
        await worker.run_until_idle()
        assert receiver.requests == []
        async with database.read() as conn:
            queued = (
                await conn.execute(
                    select(jobs_table.c.run_at, jobs_table.c.payload).where(
                        jobs_table.c.kind == jobs.WEBHOOK_DELIVERY,
                        jobs_table.c.status == "pending",
                    )
                )
            ).all()
        prompt = [(run_at, p) for run_at, p in queued if p.get("redelivery")]
        parked = [(run_at, p) for run_at, p in queued if not p.get("redelivery")]
        assert len(prompt) == 3
        assert len(parked) == 3
        assert all(run_at <= clock() + 2 * config.probe_retry for run_at, _ in prompt)
        assert all("deferrals" not in p for _, p in prompt)
        assert all(run_at >= clock() + config.defer_base for run_at, _ in parked)

        gate.leave(partner_id, healthy=True)  # the hung attempt ended; the endpoint answers
        clock.advance(seconds=2 * config.probe_retry.total_seconds())
        await worker.run_until_idle()
        assert receiver.wait_for(3)  # delivered now, not minutes later
        client = extras.get(CLIENT_KEY)
        if client is not None:
            await client.aclose()  # type: ignore[attr-defined]
    finally:
        receiver.close()
