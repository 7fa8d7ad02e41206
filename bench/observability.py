"""Benchmark: the cost of metrics + structured logging on order placement.

    .venv/bin/python bench/observability.py [--orders 400] [--concurrency 8] [--rounds 5]
        [--database sqlite|postgres] [--control] [--json out.json]

One process, one throwaway database (a SQLite file, or ``steller_bench_<hex>`` on
``STELLER_BENCH_POSTGRES_URL`` / ``STELLER_TEST_POSTGRES_URL``), one funded partner. The real app
(``create_app``) is driven in process over ASGI (httpx) with ``--concurrency`` clients posting
``POST /api/orders`` (a 5.00 USD card, unique ``referenceId``s). Two configurations are measured
in interleaved rounds (ON, OFF, ON, OFF …) so drift hits both alike:

* **on**: ``STELLER_METRICS_ENABLED=true`` (request counter + histogram, ledger counters) and the
  JSON log handler at INFO with the redaction filter, writing one line per request to a file;
* **off**: metrics disabled and logging at WARNING (no request lines).

Reported: orders/s, p50/p99 latency and the process CPU time per order for each configuration
(median of rounds), the throughput overhead ``1 - on/off``, the CPU overhead ``on/off - 1`` with
the CPU it adds per order, the median of the per-round CPU ratios (``paired_cpu_overhead_percent``:
a round's two runs are adjacent in time), the CPU of one request's observation timed directly
(``observer_us_per_request``: metrics plus the JSON log line), and the load average at the end.
``--control`` keeps observation off in both configurations (an A/A run: what the two app
instances and the machine's drift alone make of the same comparison). On a shared, loaded
machine the CPU figures are the steadier ones: wall-clock throughput moves
with everyone else's load. The in-process ASGI path has no sockets, so the relative overhead is
an upper bound of what a real server sees (the fixed costs it adds are not here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from steller_server.api.middleware import RequestContextMiddleware
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.db.migrate import sync_url, upgrade
from steller_server.domain import catalog, keys, ledger
from steller_server.domain.partners import create_partner
from steller_server.observability import logging as obs_logging
from steller_server.observability import metrics
from steller_server.settings import Settings

SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
SKU = "BENCH-US-5"


async def seed(settings: Settings) -> str:
    db = Database.from_settings(settings)
    try:
        async with db.write() as conn:
            await catalog.upsert_products(
                conn,
                items=[
                    {
                        "sku": SKU,
                        "vendor_product_id": "1",
                        "name": "Bench card",
                        "brand_name": "Bench",
                        "country_code": "US",
                        "categories": ["bench"],
                        "face_currency": "USD",
                        "denomination_type": "fixed",
                        "min_face_minor": 500,
                        "max_face_minor": 500,
                        "cost_min_minor": 450,
                        "cost_max_minor": 450,
                        "cost_currency": "USD",
                        "stock": None,
                        "available": True,
                        "redemption_instructions": None,
                        "terms": None,
                        "logo_url": None,
                    }
                ],
            )
        partner, wallet = await create_partner(
            db,
            name="Bench",
            email=f"{secrets.token_hex(4)}@bench.test",
            actor="admin:bench",
            settings=settings,
            currency="USD",
            low_balance_threshold=Decimal(0),
        )
        async with db.write() as conn:
            await ledger.credit(
                conn,
                wallet_id=wallet.id,
                amount_minor=10**12,
                description="bench funding",
                actor="admin:bench",
            )
            await catalog.approve_products(
                conn,
                partner_id=partner.id,
                actor="admin:bench",
                items=[catalog.ApprovalItem(sku=SKU, discount_percent=Decimal("-5"))],
                order_fee=settings.order_fee,
            )
            await conn.execute(
                text(
                    "UPDATE partners SET rate_limit_orders = 1000000, "
                    "rate_limit_default = 1000000 WHERE id = :id"
                ),
                {"id": partner.id},
            )
            created = await keys.create_key(
                conn,
                partner_id=partner.id,
                environment=partner.environment,
                role="developer",
                secret_key=SECRET,
            )
        return created.raw
    finally:
        await db.dispose()


async def round_(
    app: Any, key: str, orders: int, concurrency: int
) -> tuple[float, list[float], float]:
    """(orders/s, latencies, CPU seconds this process spent per order) of one round."""
    latencies: list[float] = []
    queue = list(range(orders))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as client:

        async def one_client() -> None:
            while queue:
                queue.pop()
                started = time.perf_counter()
                response = await client.post(
                    "/api/orders",
                    headers={"x-api-key": key},
                    json={
                        "sku": SKU,
                        "faceValue": "5.00",
                        "quantity": 1,
                        "referenceId": secrets.token_hex(8),
                    },
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise RuntimeError(f"order failed: {response.status_code} {response.text}")

        started = time.perf_counter()
        cpu_started = time.process_time()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    return orders / elapsed, latencies, cpu / orders


def observer_cost(app: Any, log_file: Path, settings: Settings, calls: int = 5_000) -> float:
    """CPU µs of one request's observation alone (the metrics and the JSON log line), timed
    directly: the end-to-end difference above is this plus run-to-run noise."""
    observer = next(m for m in app.user_middleware if m.cls is RequestContextMiddleware).kwargs[
        "observer"
    ]
    route = next(r for r in app.routes if getattr(r, "path", None) == "/api/orders")
    scope = {
        "endpoint": route.endpoint,
        "method": "POST",
        "path": "/api/orders",
        "state": {"request_id": "req_0123456789abcdef", "partner_id": "ptn_0123456789ab"},
    }
    configure(True, log_file, settings)
    samples = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(calls):
            observer(scope, 202, 0.0123)
        samples.append((time.process_time() - started) / calls * 1e6)
    configure(False, log_file, settings)
    return round(statistics.median(samples), 1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)] * 1000


def configure(on: bool, log_file: Path, settings: Settings) -> None:
    metrics.set_enabled(on)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handler = obs_logging.build_handler(
        settings.replace(log_format="json"), log_file.open("a", encoding="utf-8")
    )
    root.addHandler(handler)
    root.setLevel(logging.INFO if on else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="steller-bench-obs-"))
    pg_name = None
    if args.database == "postgres":
        admin_url = (
            os.environ.get("STELLER_BENCH_POSTGRES_URL")
            or os.environ.get("STELLER_TEST_POSTGRES_URL")
            or "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        pg_name = f"steller_bench_{secrets.token_hex(6)}"
        admin = create_engine(
            make_url(sync_url(admin_url)).set(database="postgres"),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        url = (
            make_url(sync_url(admin_url))
            .set(database=pg_name)
            .render_as_string(hide_password=False)
        )
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    try:
        base = Settings(mode="live", secret_key=SECRET).replace(database_url=url)
        upgrade(base)
        key = await seed(base)
        log_file = tmp / "requests.log"
        apps = {}
        for name, on in (("on", True), ("off", False)):
            apps[name] = create_app(base.replace(metrics_enabled=on))
        results: dict[str, list[tuple[float, list[float], float]]] = {"on": [], "off": []}
        stack = contextlib.AsyncExitStack()
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        try:
            # Warm-up, both apps: each has its own engine, pool and per-connection prepared
            # statements, and a cold app would bias the first rounds against its configuration.
            for name in ("on", "off"):
                configure(name == "on", log_file, base)
                await round_(apps[name], key, max(args.orders // 2, 20), args.concurrency)
            if not args.no_freeze:
                # As `steller-server serve` does after start-up (cli.create_server_app): the
                # long-lived heap leaves the cyclic collector, so full collections stop
                # rescanning it in whichever configuration happens to trigger them.
                gc.collect()
                gc.freeze()
            for i in range(args.rounds):
                # ABBA order, so neither configuration always runs first after a switch.
                for name in ("on", "off") if i % 2 == 0 else ("off", "on"):
                    configure(name == "on" and not args.control, log_file, base)
                    results[name].append(
                        await round_(apps[name], key, args.orders, args.concurrency)
                    )
        finally:
            await stack.aclose()
            metrics.set_enabled(True)
        lines = sum(1 for _ in log_file.open(encoding="utf-8"))
        report: dict[str, Any] = {
            "database": args.database,
            "orders_per_round": args.orders,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "gc_frozen": not args.no_freeze,
            "control": args.control,
            "log_lines_written": lines,
        }
        for name, rounds in results.items():
            report[name] = {
                "orders_per_s": round(statistics.median(r[0] for r in rounds), 1),
                "p50_ms": round(statistics.median(percentile(r[1], 0.5) for r in rounds), 2),
                "p99_ms": round(statistics.median(percentile(r[1], 0.99) for r in rounds), 2),
                "cpu_us_per_order": round(statistics.median(r[2] for r in rounds) * 1e6, 1),
                "orders_per_s_runs": [round(r[0], 1) for r in rounds],
                "cpu_us_per_order_runs": [round(r[2] * 1e6) for r in rounds],
            }
        report["overhead_percent"] = round(
            (1 - report["on"]["orders_per_s"] / report["off"]["orders_per_s"]) * 100, 2
        )
        # On a shared machine the wall-clock figures move with everyone else's load; the CPU
        # this process spends per order (all its threads) does not, so it is the steadier
        # measure of what metrics and logging cost.
        on_cpu, off_cpu = report["on"]["cpu_us_per_order"], report["off"]["cpu_us_per_order"]
        report["added_cpu_us_per_order"] = round(on_cpu - off_cpu, 1)
        report["cpu_overhead_percent"] = round((on_cpu / off_cpu - 1) * 100, 2)
        # Round i's two runs are adjacent in time, so their ratio cancels the machine's slow
        # phases that the medians above still mix in.
        report["paired_cpu_overhead_percent"] = round(
            statistics.median(
                (on_r[2] / off_r[2] - 1) * 100
                for on_r, off_r in zip(results["on"], results["off"], strict=True)
            ),
            2,
        )
        report["observer_us_per_request"] = observer_cost(apps["on"], log_file, base)
        report["load_average"] = [round(x, 2) for x in os.getloadavg()]
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if pg_name is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--no-freeze", action="store_true", help="do not gc.freeze() after warm-up (as serve does)"
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="A/A run: observation stays off in both configurations (the noise floor)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    report = asyncio.run(main(options))
    text_out = json.dumps(report, indent=2)
    print(text_out)
    if options.json:
        options.json.write_text(text_out + "\n")
    sys.exit(0)
