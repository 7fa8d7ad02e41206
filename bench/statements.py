"""Benchmark: CPU per statement, SQLAlchemy's execution layer against ``db/driver.py``.

    .venv/bin/python bench/statements.py [--reads 2000] [--repeat 3] [--json out.json] [--smoke]

On a throwaway PostgreSQL database (``STELLER_BENCH_POSTGRES_URL``) seeded like the orders
benchmark (100 partners), the order's pricing read (``domain/orders.py::_CONTEXT``: wallet,
product and approval) runs ``--reads`` times, each on a pooled autocommit connection
(``Database.statement()``, as an order does), three ways, interleaved per round:

* ``sqlalchemy``: ``AsyncConnection.execute`` + ``.mappings().one()``;
* ``driver``: :class:`steller_server.db.driver.DriverStatement` (the same compiled SQL on
  psycopg's connection), as orders run it;
* ``checkout``: the pool checkout alone (in both of the above).

Reported: median CPU microseconds per read (``time.process_time``), so a busy machine slows
both sides alike; the ratio is the figure to read.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c


async def _measure(url: str, reads: int, repeat: int) -> dict[str, list[float]]:
    from sqlalchemy import select  # noqa: PLC0415

    from steller_server.db.driver import DriverStatement  # noqa: PLC0415
    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.db.tables import partners, products  # noqa: PLC0415
    from steller_server.domain.orders import _CONTEXT  # noqa: PLC0415

    db = Database.from_settings(c.settings_for(url))
    try:
        async with db.statement() as conn:
            partner_ids = list((await conn.execute(select(partners.c.id))).scalars())
            sku = (await conn.execute(select(products.c.sku).limit(1))).scalar_one()
            driver = DriverStatement(_CONTEXT, conn.dialect)

        def values(i: int) -> dict[str, Any]:
            return {"sku": sku, "partner_id": partner_ids[i % len(partner_ids)]}

        async def sqlalchemy() -> None:
            for i in range(reads):
                async with db.statement() as conn:
                    (await conn.execute(_CONTEXT, values(i))).mappings().one()

        async def via_driver() -> None:
            for i in range(reads):
                async with db.statement() as conn:
                    await driver.first(conn, values(i))

        async def checkout() -> None:
            for _ in range(reads):
                async with db.statement():
                    pass

        ways: dict[str, Callable[[], Awaitable[None]]] = {
            "sqlalchemy": sqlalchemy,
            "driver": via_driver,
            "checkout": checkout,
        }
        for way in ways.values():  # warm-up: prepared statements, caches
            await way()
        out: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(repeat):
            for name, way in ways.items():
                started = time.process_time()
                await way()
                out[name].append(1e6 * (time.process_time() - started) / reads)
        return out
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny run: checks only that it runs")
    args = parser.parse_args()
    c.install_sigterm()
    reads, repeat = (50, 1) if args.smoke else (args.reads, args.repeat)
    note = c.machine_note()
    print(f"# statements benchmark: {note}", flush=True)
    with (
        c.temp_folder("steller-bench-statements-") as tmp,
        c.throwaway_database("postgres", Path(tmp)) as url,
    ):
        c.migrate(url)
        c.seed_sync(url, partners=3 if args.smoke else 100)
        runs = asyncio.run(_measure(url, reads, repeat))
    medians = {name: round(statistics.median(values), 1) for name, values in runs.items()}
    ratio = medians["sqlalchemy"] / medians["driver"] if medians["driver"] else None
    rows = [
        [name, c.fmt(medians[name]), ", ".join(f"{v:.1f}" for v in runs[name])] for name in runs
    ]
    print(c.table(["way", "CPU µs per read (median)", "rounds"], rows))
    if ratio is not None:
        print(f"sqlalchemy / driver: {ratio:.2f}x")
    c.write_json(
        args.json,
        {
            "benchmark": "statements",
            "command": " ".join(sys.argv),
            "machine": note,
            "load_after": c.machine_note()["loadavg_1_5_15"],
            "reads": reads,
            "repeat": repeat,
            "cpu_us_per_read": medians,
            "cpu_us_per_read_runs": runs,
            "sqlalchemy_over_driver": None if ratio is None else round(ratio, 2),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
