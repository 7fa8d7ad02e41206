"""Benchmark: GET /api/partner/usage for a partner with 1,000,000 orders, on PostgreSQL.

    STELLER_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/usage.py [--orders 1000000] [--requests 300]

Creates a throwaway database (``steller_bench_<random>``), migrates it to 0003, generates the data
with ``INSERT … SELECT generate_series`` (the partner's orders spread evenly over the last 365
days, so a 30-day window holds ~82,000 of them, mixed statuses and 25 SKUs; 200,000 orders of 20
other partners; ~1,000,000 request-log rows of the partner over 30 days), migrates to head (0004
backfills the daily order rollup from those orders; timed), runs ``VACUUM ANALYZE``, then times the
real endpoint through the ASGI app (auth, rate limit, validation, JSON included) for ``days=30``
(the default; the p99 target is 100 ms) and, for information, ``days=7`` and ``days=365`` (all 1M
orders) — once before the request-log rollup (``rollup_request_logs``, run by the periodic purge
task) and then in the steady state after it. The baseline of the same run is the endpoint
aggregating the orders themselves (``usage_summary(from_orders=True)``, the 0002 index-only scan).
Checks that the rollup-based figures equal the raw aggregate's, prints one JSON document and drops
the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.db.migrate import sync_url, upgrade
from steller_server.domain import keys, usage
from steller_server.domain.request_log_queries import rollup_request_logs
from steller_server.settings import Settings

SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
SKUS = 25
OTHER_PARTNERS = 20


def _generate(url: str, orders: int, other_orders: int, logs: int, now: datetime) -> None:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    year = 365 * 86400
    with engine.begin() as conn:
        params: dict[str, Any] = {"now": now}
        conn.execute(
            text("""
            INSERT INTO partners (id, name, email, company, status, environment, currency,
                api_version, low_balance_threshold_minor, low_balance_notified, notifications,
                rate_limit_catalog, rate_limit_orders, rate_limit_default, created_at, updated_at)
            SELECT 'ptn_bench' || lpad(g::text, 12, '0'), 'Bench ' || g,
                   'bench' || g || '@example.com', NULL, 'active', 'sandbox', 'USD',
                   '2026-11-01', 0, false, '{}'::json, NULL, NULL, 100000, :now, :now
              FROM generate_series(0, :others) g
        """),
            {**params, "others": OTHER_PARTNERS},
        )
        conn.execute(
            text("""
            INSERT INTO wallets (id, partner_id, currency, balance_minor, version, created_at,
                                 updated_at)
            SELECT 'wal_bench' || lpad(g::text, 12, '0'), 'ptn_bench' || lpad(g::text, 12, '0'),
                   'USD', 100000000, 0, :now, :now
              FROM generate_series(0, :others) g
        """),
            {**params, "others": OTHER_PARTNERS},
        )
        conn.execute(
            text("""
            INSERT INTO products (sku, vendor_product_id, name, brand_name, country_code,
                categories, face_currency, denomination_type, min_face_minor, max_face_minor,
                cost_min_minor, cost_max_minor, cost_currency, stock, available,
                created_at, updated_at)
            SELECT 'SKU-' || g, 'v' || g, 'Product ' || g, 'Brand ' || g, 'US', '[]'::json,
                   'USD', 'fixed', 1000 * (g + 1), 1000 * (g + 1), 950 * (g + 1), 950 * (g + 1),
                   'USD', NULL, true, :now, :now
              FROM generate_series(0, :skus - 1) g
        """),
            {**params, "skus": SKUS},
        )
        # status mix: 90 % completed, 4 % failed (refunded), 3 % partial (1/2 refunded),
        # 2 % cancelled (refunded), 1 % processing.
        conn.execute(
            text("""
            INSERT INTO orders (id, partner_id, wallet_id, reference_id, request_hash, sku,
                product_name, brand_name, face_value_minor, face_currency, quantity,
                quantity_fulfilled, unit_price_minor, total_minor, refunded_minor, currency,
                discount_percent, exchange_rate, status, failure_reason, vendor_request_id,
                vendor_order_id, vendor_status, vendor_submitted_at, request_id, created_at,
                updated_at, completed_at)
            SELECT 'ord_b' || lpad(g::text, 19, '0'), p, w, 'ref-' || g, md5(g::text),
                   'SKU-' || (g % :skus), 'Product ' || (g % :skus), 'Brand',
                   1000 * (g % :skus + 1),
                   'USD', q, CASE s WHEN 'completed' THEN q WHEN 'partially_completed' THEN q / 2
                                    ELSE 0 END,
                   u, u * q,
                   CASE s WHEN 'failed' THEN u * q WHEN 'cancelled' THEN u * q
                          WHEN 'partially_completed' THEN u * (q - q / 2) ELSE 0 END,
                   'USD', 0, 1, s, NULL, 'vr-' || g, NULL, NULL, NULL, NULL, c, c, c
              FROM (
                SELECT g,
                       CASE WHEN g < :orders THEN 'ptn_bench000000000000'
                            ELSE 'ptn_bench' || lpad((1 + g % :others)::text, 12, '0') END AS p,
                       CASE WHEN g < :orders THEN 'wal_bench000000000000'
                            ELSE 'wal_bench' || lpad((1 + g % :others)::text, 12, '0') END AS w,
                       1 + (g % 4) * 2 AS q,
                       1050 * (g % :skus + 1) AS u,
                       CASE WHEN g % 100 < 90 THEN 'completed' WHEN g % 100 < 94 THEN 'failed'
                            WHEN g % 100 < 97 THEN 'partially_completed'
                            WHEN g % 100 < 99 THEN 'cancelled' ELSE 'processing' END AS s,
                       :now - make_interval(secs => ((g % :orders)::float8 / :orders) * :year)
                         AS c
                  FROM generate_series(0, :orders + :other_orders - 1) g
              ) src
        """),
            {
                **params,
                "skus": SKUS,
                "orders": orders,
                "others": OTHER_PARTNERS,
                "other_orders": other_orders,
                "year": year,
            },
        )
        conn.execute(
            text("""
            INSERT INTO request_logs (id, request_id, partner_id, key_id, admin_user_id, method,
                path, route, status, latency_ms, client_ip, created_at)
            SELECT 'log_b' || lpad(g::text, 19, '0'), 'req_b' || g, 'ptn_bench000000000000',
                   NULL, NULL, 'GET', '/api/orders', NULL,
                   CASE WHEN g % 50 = 0 THEN 422 WHEN g % 997 = 0 THEN 500 ELSE 200 END,
                   12, NULL,
                   :now - make_interval(secs => (g::float8 / :logs) * 30 * 86400)
              FROM generate_series(0, :logs - 1) g
        """),
            {**params, "logs": logs},
        )
    engine.dispose()


def _vacuum(url: str) -> None:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _data_now(url: str) -> datetime:
    """The instant an earlier run generated its data for (its newest order)."""
    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        newest = conn.execute(
            text("SELECT max(created_at) FROM orders WHERE partner_id = 'ptn_bench000000000000'")
        ).scalar_one()
    engine.dispose()
    return newest.astimezone(UTC)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def _measure(url: str, requests: int, now: datetime) -> dict[str, Any]:
    settings = Settings(mode="sandbox", secret_key=SECRET).replace(database_url=url)
    database = Database.from_settings(settings)
    async with database.write() as conn:
        created = await keys.create_key(
            conn,
            partner_id="ptn_bench000000000000",
            environment="sandbox",
            role="finance",
            secret_key=settings.effective_secret_key,
        )
    app = create_app(settings, database=database, clock=lambda: now)
    headers = {"x-api-key": created.raw}
    results: dict[str, Any] = {}
    summary = usage.usage_summary
    plan = [
        # Before the periodic task has rolled up the request log: every call is counted live.
        ("days=30 without request-log rollups", 30, max(20, requests // 10), False),
        # The baseline: the orders aggregated per request (index-only scan, migration 0002).
        ("baseline days=30 from orders", 30, max(20, requests // 5), True),
        # Steady state: closed days come from request_log_daily.
        ("days=30", 30, requests, True),
        ("days=7", 7, requests, True),
        ("days=365", 365, max(20, requests // 10), True),
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for label, days, count, rolled in plan:
                if rolled and not results.get("rollup_seconds"):
                    started = time.perf_counter()
                    rolled_days = await rollup_request_logs(database, now)
                    results["rollup_seconds"] = round(time.perf_counter() - started, 2)
                    results["rolled_up_days"] = rolled_days
                path = f"/api/partner/usage?days={days}"
                from_orders = label.startswith("baseline")
                usage.usage_summary = partial(summary, from_orders=True) if from_orders else summary
                for _ in range(5):  # warm caches and the pool
                    assert (await client.get(path, headers=headers)).status_code == 200
                samples = []
                for _ in range(count):
                    started = time.perf_counter()
                    response = await client.get(path, headers=headers)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                body = response.json()
                results[label] = {
                    "requests": count,
                    "orders_in_window": body["orders"]["total"],
                    "api_calls_in_window": body["apiCalls"],
                    "p50_ms": round(statistics.median(samples), 2),
                    "p95_ms": round(_percentile(samples, 95), 2),
                    "p99_ms": round(_percentile(samples, 99), 2),
                    "max_ms": round(max(samples), 2),
                }
            usage.usage_summary = summary
        base, fast = results["baseline days=30 from orders"], results["days=30"]
        results["days=30 vs baseline"] = {
            "p50_ratio": round(fast["p50_ms"] / base["p50_ms"], 3),
            "p99_ratio": round(fast["p99_ms"] / base["p99_ms"], 3),
        }
    # After the shutdown flushed the request log: the order figures are compared, and the API-call
    # counts (which this run's own requests change) are read once for both.
    results["rollup_equals_raw"] = await _rollup_equals_raw(database, now)
    await database.dispose()
    return results


async def _rollup_equals_raw(database: Database, now: datetime) -> bool:
    async with database.read() as conn:
        for days in (1, 30, 365):
            figures = [
                (
                    await usage.usage_summary(
                        conn,
                        partner_id="ptn_bench000000000000",
                        currency="USD",
                        days=days,
                        now=now,
                        from_orders=from_orders,
                    )
                ).public()
                for from_orders in (False, True)
            ]
            if figures[0] != figures[1]:
                print(
                    json.dumps({"days": days, "rollup": figures[0], "raw": figures[1]}),
                    file=sys.stderr,
                )
                return False
    return True


def _explain(url: str, now: datetime) -> list[str]:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    start = datetime.combine((now - timedelta(days=29)).date(), datetime.min.time(), tzinfo=UTC)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text("""
            EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
            SELECT day, status, sku, order_count, total_minor, refunded_minor
              FROM order_usage_daily WHERE partner_id = 'ptn_bench000000000000'
               AND day >= :start AND day < :end AND order_count > 0
        """),
                {"start": start.date(), "end": (start + timedelta(days=30)).date()},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return [str(r) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--other-orders", type=int, default=200_000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--existing",
        metavar="NAME",
        help="measure a database kept by an earlier --keep run (no generation)",
    )
    args = parser.parse_args()
    admin_url = os.environ.get("STELLER_BENCH_POSTGRES_URL") or os.environ.get(
        "STELLER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = args.existing or f"steller_bench_{secrets.token_hex(4)}"
    maintenance = make_url(sync_url(admin_url)).set(database="postgres")
    admin = create_engine(maintenance, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    if not args.existing:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(sync_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    now = datetime.now(UTC).replace(microsecond=0)
    generated = backfilled = 0.0
    load_before = os.getloadavg()
    try:
        if args.existing:
            now = _data_now(url)
        else:
            bench_settings = Settings(mode="sandbox", secret_key=SECRET).replace(database_url=url)
            upgrade(bench_settings, "0003")
            started = time.perf_counter()
            _generate(url, args.orders, args.other_orders, args.logs, now)
            generated = time.perf_counter() - started
            started = time.perf_counter()
            upgrade(bench_settings)  # 0004: the rollup backfilled from the generated orders
            backfilled = time.perf_counter() - started
            _vacuum(url)
        results = asyncio.run(_measure(url, args.requests, now))
        plan = _explain(url, now)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    p99 = results["days=30"]["p99_ms"]
    print(
        json.dumps(
            {
                "benchmark": "usage",
                "database": "postgresql",
                "kept_database": name if args.keep or args.existing else None,
                "partner_orders": args.orders,
                "other_orders": args.other_orders,
                "partner_request_logs": args.logs,
                "load_average": {"before": load_before, "after": os.getloadavg()},
                "generate_seconds": round(generated, 1),
                "backfill_0004_seconds": round(backfilled, 1),
                "results": results,
                "target": {"days=30 p99_ms": 100, "met": p99 < 100},
                "plan_days30_rollup": plan,
            },
            indent=2,
        )
    )
    return 0 if p99 < 100 and results["rollup_equals_raw"] else 1


if __name__ == "__main__":
    sys.exit(main())
