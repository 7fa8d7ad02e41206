"""Real `steller-server worker` processes against PostgreSQL and the simulator on a loopback port:
a worker SIGKILLed mid-fulfilment, and three workers draining 300 orders."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from steller_sandbox import SimulatorConfig, create_app
from steller_sandbox.state import Simulator
from steller_sandbox.testing import serve_in_thread
from steller_server.db.engine import Database
from steller_server.db.tables import events, ledger_entries, orders
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import orders as orders_domain
from steller_server.domain.models import Partner
from steller_server.settings import Settings
from tests.server.api.ops_kit import simulator_product

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.parametrize("db_backend", ["postgres"], indirect=True),
]

STELLER_SERVER = Path(sys.executable).with_name("steller-server")


@pytest.fixture
def simulator() -> Iterator[tuple[Simulator, str]]:
    app: Any = create_app(SimulatorConfig(limits_enabled=False, latency=0.0, slow_seconds=4.0))
    with serve_in_thread(app) as url:
        yield app.state.simulator, url


def worker_env(settings: Settings, sim_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLER_")}
    env.update(
        {
            "STELLER_DATABASE_URL": settings.database_url,
            "STELLER_MODE": "sandbox",
            "STELLER_SECRET_KEY": settings.effective_secret_key,
            "STELLER_BAMBOO_BASE_URL": sim_url,
            "STELLER_BAMBOO_CLIENT_ID": "steller-sandbox",
            "STELLER_BAMBOO_CLIENT_SECRET": "sandbox-secret",
            "STELLER_BAMBOO_ACCOUNT_ID": "1001",
        }
    )
    return env


def start_worker(
    env: dict[str, str], tmp_path: Path, name: str, concurrency: int = 8, lease: float = 3.0
) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [
            str(STELLER_SERVER),
            "worker",
            "--concurrency",
            str(concurrency),
            "--poll-interval",
            "0.05",
            "--lease",
            str(lease),
            "--no-schedule",
            "--no-vendor-limits",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def place(
    database: Database, settings: Settings, partner: Partner, sku: str, n: int
) -> list[str]:
    ids = []
    for _ in range(n):
        order, _ = await orders_domain.place_order(
            database,
            partner=partner,
            sku=sku,
            face_value=Decimal("10.00"),
            quantity=1,
            reference_id=secrets.token_hex(8),
            request_hash="h",
            actor="partner:test",
            order_fee=settings.order_fee,
        )
        ids.append(order.id)
    return ids


async def statuses(database: Database, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    async with database.read() as conn:
        rows = (
            await conn.execute(
                select(orders.c.id, orders.c.status, orders.c.vendor_status).where(
                    orders.c.id.in_(ids)
                )
            )
        ).all()
    return {r.id: (r.status, r.vendor_status) for r in rows}


def read_logs(tmp_path: Path, pattern: str) -> list[str]:
    return [p.read_text() for p in sorted(tmp_path.glob(pattern))]


async def wait_until(
    check: Any, within: float, procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    try:
        async with asyncio.timeout(within):
            while not await check():
                assert all(p.poll() is None for p in procs), "a worker exited"
                await asyncio.sleep(0.05)
    except TimeoutError:
        logs = "\n".join(log[-3000:] for log in read_logs(tmp_path, "*.log"))
        raise AssertionError(f"timed out; worker logs:\n{logs}") from None


async def assert_completed_once(database: Database, sim: Simulator, ids: list[str]) -> None:
    async with database.read() as conn:
        rows = (await conn.execute(select(orders).where(orders.c.id.in_(ids)))).mappings().all()
        debits = dict(
            (
                await conn.execute(
                    select(ledger_entries.c.order_id, func.count())
                    .where(ledger_entries.c.order_id.in_(ids), ledger_entries.c.type == "debit")
                    .group_by(ledger_entries.c.order_id)
                )
            ).all()
        )
        refunds = await conn.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.order_id.in_(ids), ledger_entries.c.type == "refund")
        )
        terminal = dict(
            (
                await conn.execute(
                    select(events.c.order_id, func.count())
                    .where(events.c.order_id.in_(ids))
                    .group_by(events.c.order_id)
                )
            ).all()
        )
    assert {r["status"] for r in rows} == {"completed"}
    assert all(debits[i] == 1 for i in ids)
    assert refunds == 0
    assert all(terminal[i] == 1 for i in ids)
    assert all(sim.order_count(r["vendor_request_id"]) == 1 for r in rows)


async def test_a_worker_killed_mid_fulfilment_resumes_without_a_second_vendor_order(
    database: Database,
    settings: Settings,
    factory: Any,
    simulator: tuple[Simulator, str],
    tmp_path: Path,
) -> None:
    sim, url = simulator
    await factory.product(**simulator_product(sim, "SIM-SLOW-10"))
    partner, _ = await factory.partner(balance="500.00", approve={"SIM-SLOW-10": "-5"})
    ids = await place(database, settings, partner, "SIM-SLOW-10", 6)
    env = worker_env(settings, url)

    first = start_worker(env, tmp_path, "first")
    try:

        async def submitted() -> bool:  # Bamboo has them all, none is finished yet
            return all(v is not None for _, v in (await statuses(database, ids)).values())

        await wait_until(submitted, 60, [first], tmp_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert {s for s, _ in (await statuses(database, ids)).values()} == {"processing"}
    assert len(sim.orders) == 6  # one vendor order each, all still in the slow scenario
    assert {o.status_at(sim.now()) for o in sim.orders.values()} <= {"Processing", "Pending"}

    second = start_worker(env, tmp_path, "second")
    try:

        async def finished() -> bool:
            return {s for s, _ in (await statuses(database, ids)).values()} == {"completed"}

        await wait_until(finished, 60, [second], tmp_path)
    finally:
        second.terminate()
        second.wait(timeout=10)
    assert second.returncode == 0  # SIGTERM is a graceful stop
    await assert_completed_once(database, sim, ids)
    assert len(sim.orders) == 6


async def test_three_worker_processes_drain_300_orders_each_exactly_once(
    database: Database,
    settings: Settings,
    factory: Any,
    simulator: tuple[Simulator, str],
    tmp_path: Path,
) -> None:
    sim, url = simulator
    await factory.product(**simulator_product(sim, "SIM-OK-10"))
    partner, _ = await factory.partner(balance="5000.00", approve={"SIM-OK-10": "-5"})
    ids = await place(database, settings, partner, "SIM-OK-10", 300)
    env = worker_env(settings, url)

    procs = [start_worker(env, tmp_path, f"w{i}", concurrency=6, lease=15.0) for i in range(3)]
    try:

        async def drained() -> bool:
            async with database.read() as conn:
                left = await conn.scalar(
                    select(func.count())
                    .select_from(orders)
                    .where(orders.c.id.in_(ids), orders.c.status == "processing")
                )
            return left == 0

        await wait_until(drained, 120, procs, tmp_path)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
    await assert_completed_once(database, sim, ids)
    assert len(sim.orders) == 300
    async with database.read() as conn:  # each job claimed once: none ran twice
        claims = (
            (
                await conn.execute(
                    select(jobs_table.c.attempts).where(jobs_table.c.kind == "fulfilment")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(set(claims)) == [1]
    assert len(claims) == 300
    logs = read_logs(tmp_path, "w*.log")
    assert sum("started" in log for log in logs) == 3
    assert all("lease lost" not in log for log in logs)
