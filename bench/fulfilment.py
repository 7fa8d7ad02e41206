"""Benchmark: order fulfilment — latency from ``POST /api/orders`` to ``completed``, and throughput.

    .venv/bin/python bench/fulfilment.py [--duration 30] [--rate 10] [--orders 600]
        [--workers 1,3] [--repeat 2] [--latency-databases sqlite,postgres] [--json out.json]
        [--smoke]

Phase ``latency`` (on SQLite as ``steller-server sandbox`` runs, and on a throwaway PostgreSQL
database with the same single in-process worker): a child process serves the sandbox app
(:func:`steller_server.sandbox_mode.build_sandbox`: API + ONE in-process worker + the Bamboo
simulator in process) under uvicorn (uvloop, httptools), with zero simulated latency and the vendor
limits lifted on both sides (Bamboo's checkout limit of 2/s would otherwise be the whole story).
Orders are posted open-loop at ``--rate``/s for ``--duration`` s on the demo partner (limits
lifted); the latency of an order is its ``completed_at`` (server clock, same machine) minus the
moment the client sent the POST. Target: p50 < 200 ms, p99 < 1 s. The JSON keeps the first
database's result in ``latency`` and every one in ``latency_by_database``.

Phase ``throughput`` (PostgreSQL, throwaway database): the simulator alone (``steller-sandbox
--no-limits``) and 1 or 3 ``steller-server worker --no-vendor-limits`` processes. Per round and
worker count, ``--orders`` orders are placed first (through the ASGI app in this process, workers
stopped), then the workers start; throughput = completions / (last - first ``completed_at``), so
start-up is not counted. Rounds interleave the worker counts; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

TERMINAL = ("completed", "failed", "partially_completed", "cancelled", "refunded")


# -- the sandbox child process ------------------------------------------------------------------


def serve_sandbox(port: int) -> None:
    """Child process: the sandbox app (zero latency, limits lifted) under uvicorn."""
    import uvicorn  # noqa: PLC0415

    from steller_sandbox import SimulatorConfig  # noqa: PLC0415
    from steller_server.sandbox_mode import build_sandbox  # noqa: PLC0415
    from steller_server.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env()
    sandbox = build_sandbox(
        settings, simulator_config=SimulatorConfig(latency=0.0, limits_enabled=False)
    )
    uvicorn.run(
        sandbox.app,
        host=c.HOST,
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )


# -- database helpers ------------------------------------------------------------------------------


def _sync_engine(url: str) -> Any:
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.pool import NullPool  # noqa: PLC0415

    from steller_server.db.migrate import sync_url  # noqa: PLC0415

    return create_engine(sync_url(c.settings_for(url).database_url), poolclass=NullPool)


def lift_limits_and_pick_product(url: str) -> tuple[str, str]:
    """Lift every partner's rate limits; a fixed USD product of a normal brand approved for the
    demo partner: ``(sku, face value)``."""
    from sqlalchemy import text  # noqa: PLC0415

    engine = _sync_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE partners SET rate_limit_orders = :n, rate_limit_catalog = :n,"
                    " rate_limit_default = :n"
                ),
                {"n": c.NO_LIMIT},
            )
            row = conn.execute(
                text(
                    "SELECT p.sku, p.min_face_minor FROM products p JOIN partner_products a "
                    "ON a.sku = p.sku WHERE p.denomination_type = 'fixed' AND p.face_currency = 'USD'"  # noqa: E501
                    " AND p.available AND p.brand_name <> 'Steller Test Brand'"
                    " ORDER BY p.min_face_minor, p.sku LIMIT 1"
                )
            ).one()
    finally:
        engine.dispose()
    asyncio.run(_fund_all(url))
    return str(row.sku), str((Decimal(int(row.min_face_minor)) / 100).quantize(Decimal("0.01")))


async def _fund_all(url: str) -> None:
    """Credit every wallet generously (through the ledger) so no benchmark order is refused."""
    from sqlalchemy import select  # noqa: PLC0415

    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.db.tables import wallets  # noqa: PLC0415
    from steller_server.domain import ledger  # noqa: PLC0415

    db = Database.from_settings(c.settings_for(url))
    try:
        async with db.write() as conn:
            for wallet_id in (await conn.execute(select(wallets.c.id))).scalars().all():
                await ledger.credit(
                    conn,
                    wallet_id=wallet_id,
                    amount_minor=10_000_000_000,
                    description="Benchmark funding",
                    actor="system",
                )
    finally:
        await db.dispose()


def order_times(url: str, ids: list[str]) -> dict[str, tuple[str, datetime | None]]:
    from sqlalchemy import text  # noqa: PLC0415

    engine = _sync_engine(url)
    out: dict[str, tuple[str, datetime | None]] = {}
    try:
        with engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join(f":i{n}" for n in range(len(chunk)))
                rows = conn.execute(
                    text(f"SELECT id, status, completed_at FROM orders WHERE id IN ({marks})"),
                    {f"i{n}": v for n, v in enumerate(chunk)},
                )
                for row in rows:
                    done = row.completed_at
                    if isinstance(done, str):
                        done = datetime.fromisoformat(done)
                    if done is not None and done.tzinfo is None:
                        done = done.replace(tzinfo=UTC)
                    out[row.id] = (row.status, done)
    finally:
        engine.dispose()
    return out


def wait_terminal(
    url: str, ids: list[str], timeout: float
) -> dict[str, tuple[str, datetime | None]]:
    deadline = time.monotonic() + timeout
    while True:
        states = order_times(url, ids)
        if all(s in TERMINAL for s, _ in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(0.25)


# -- phase 1: latency at a steady rate ----------------------------------------------------------


async def paced_orders(
    port: int, key: str, sku: str, face: str, *, rate: float, duration: float
) -> tuple[dict[str, float], list[int]]:
    """POST ``rate`` orders/s for ``duration`` s (open loop); ``{order id: send time}``."""
    import httpx  # noqa: PLC0415

    sent: dict[str, float] = {}
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=f"http://{c.HOST}:{port}", limits=limits, timeout=30
    ) as client:

        async def one(index: int) -> None:
            started = time.time()
            response = await client.post(
                "/api/orders", headers={"x-api-key": key},
                json={"sku": sku, "faceValue": face, "quantity": 1,
                      "referenceId": f"lat-{secrets.token_hex(6)}-{index}"},
            )  # fmt: skip
            statuses.append(response.status_code)
            if response.status_code == 202:
                sent[response.json()["id"]] = started

        tasks = []
        begin = time.monotonic()
        count = max(1, round(rate * duration))
        for index in range(count):
            delay = begin + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    return sent, statuses


def latency_phase(
    tmp: Path, *, rate: float, duration: float, database: str = "sqlite"
) -> dict[str, Any]:
    from steller_server.sandbox_mode import demo_api_key  # noqa: PLC0415

    with c.throwaway_database(database, tmp) as url:
        c.migrate(url)
        port = c.free_port()
        proc = c.Proc(
            "sandbox",
            [sys.executable, str(Path(__file__).resolve()), "--serve-sandbox", str(port)],
            c.server_env(url),
            tmp / f"sandbox-{port}.log",
            port,
        )
        with c.running(proc):
            sku, face = lift_limits_and_pick_product(url)
            key = demo_api_key(c.settings_for(url))
            sent, statuses = asyncio.run(
                paced_orders(port, key, sku, face, rate=rate, duration=duration)
            )
            states = wait_terminal(url, list(sent), timeout=60)
    latencies = []
    by_status: dict[str, int] = {}
    for order_id, started in sent.items():
        status, done = states.get(order_id, ("missing", None))
        by_status[status] = by_status.get(status, 0) + 1
        if status == "completed" and done is not None:
            latencies.append((done.timestamp() - started) * 1000)
    http_errors = sum(1 for s in statuses if s != 202)
    return {
        "database": database,
        "rate_per_s": rate,
        "duration_s": duration,
        "orders": len(statuses),
        "http_non_202": http_errors,
        "final_status": by_status,
        "sku": sku,
        "face": face,
        "p50_ms": round(c.percentile(latencies, 50), 1),
        "p90_ms": round(c.percentile(latencies, 90), 1),
        "p99_ms": round(c.percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "target_met": bool(latencies)
        and c.percentile(latencies, 50) < 200
        and c.percentile(latencies, 99) < 1000
        and http_errors == 0,
    }


# -- phase 2: throughput with worker processes --------------------------------------------------


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def completed_count(url: str) -> int:
    from sqlalchemy import text  # noqa: PLC0415

    engine = _sync_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM orders WHERE status = 'completed'")))
    finally:
        engine.dispose()


class _CpuWindow:
    """CPU of the worker processes, the simulator and the whole machine from the first
    completion of a round to its end, per order completed in between."""

    def __init__(self, url: str, before: int, procs: list[Any], sim: Any) -> None:
        self.url = url
        self.pids = [p.popen.pid for p in procs if p.popen is not None]
        self.sim_pid = sim.popen.pid if sim.popen is not None else 0
        deadline = time.monotonic() + 60
        while (done := completed_count(url)) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        self.done = done
        self.workers, self.sim = self._sample()
        self.busy, self.total = _machine_cpu()

    def _sample(self) -> tuple[float, float]:
        return sum(_process_cpu(p) for p in self.pids), _process_cpu(self.sim_pid)

    def close(self) -> dict[str, float]:
        workers, sim = self._sample()
        busy, total = _machine_cpu()
        count = max(completed_count(self.url) - self.done, 1)
        return {
            "worker_cpu_ms_per_order": round((workers - self.workers) / count * 1000, 2),
            "simulator_cpu_ms_per_order": round((sim - self.sim) / count * 1000, 2),
            "machine_busy_percent": round(
                100 * (busy - self.busy) / max(total - self.total, 1e-9), 1
            ),
        }


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from ``/proc/stat``."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(v) for v in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


async def place_orders(url: str, key: str, sku: str, face: str, count: int) -> list[str]:
    import httpx  # noqa: PLC0415

    from steller_server.app import create_app  # noqa: PLC0415

    app = create_app(c.settings_for(url))
    ids: list[str] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def one(index: int) -> None:
                response = await client.post(
                    "/api/orders", headers={"x-api-key": key},
                    json={"sku": sku, "faceValue": face, "quantity": 1,
                          "referenceId": f"thr-{secrets.token_hex(6)}-{index}"},
                )  # fmt: skip
                if response.status_code != 202:
                    raise RuntimeError(f"order refused: {response.status_code} {response.text}")
                ids.append(response.json()["id"])

            for start in range(0, count, 16):
                await asyncio.gather(*(one(i) for i in range(start, min(count, start + 16))))
    return ids


async def bootstrap_pg(url: str, sim_url: str) -> str:
    from steller_sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET  # noqa: PLC0415
    from steller_server.db.engine import Database  # noqa: PLC0415
    from steller_server.sandbox_mode import bootstrap_demo  # noqa: PLC0415
    from steller_server.vendor import BambooClient, BambooLimits  # noqa: PLC0415

    settings = c.settings_for(url)
    db = Database.from_settings(settings)
    vendor = BambooClient(
        sim_url,
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        limits=BambooLimits(enabled=False),
        limiter_storage_uri="memory://",
    )
    try:
        demo = await bootstrap_demo(db, settings, vendor)
    finally:
        await vendor.aclose()
        await db.dispose()
    return str(demo.api_key)


def throughput_phase(
    tmp: Path, *, worker_counts: list[int], orders: int, repeat: int, concurrency: int
) -> dict[str, Any]:
    from steller_sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET  # noqa: PLC0415
    from steller_server.sandbox_mode import SANDBOX_ACCOUNT_ID  # noqa: PLC0415

    runs: dict[str, list[dict[str, Any]]] = {f"{w}w": [] for w in worker_counts}
    with c.throwaway_database("postgres", tmp) as url:
        c.migrate(url)
        sim_port = c.free_port()
        sim = c.Proc(
            "simulator",
            [
                c.venv_bin("steller-sandbox"),
                "--host",
                c.HOST,
                "--port",
                str(sim_port),
                "--no-limits",
                "--log-level",
                "warning",
            ],
            dict(os.environ),
            tmp / f"sim-{sim_port}.log",
            sim_port,
            ready_path="/",
        )
        with c.running(sim):
            sim_url = f"http://{c.HOST}:{sim_port}"
            key = asyncio.run(bootstrap_pg(url, sim_url))
            sku, face = lift_limits_and_pick_product(url)
            env = c.server_env(
                url,
                STELLER_BAMBOO_BASE_URL=sim_url,
                STELLER_BAMBOO_CLIENT_ID=SANDBOX_CLIENT_ID,
                STELLER_BAMBOO_CLIENT_SECRET=SANDBOX_CLIENT_SECRET,
                STELLER_BAMBOO_ACCOUNT_ID=str(SANDBOX_ACCOUNT_ID),
            )
            for rep in range(repeat):
                for workers in worker_counts:
                    print(
                        f"  round {rep + 1}/{repeat}: {workers} worker(s), placing {orders} "
                        f"orders (load {c.machine_note()['loadavg_1_5_15']})",
                        flush=True,
                    )
                    ids = asyncio.run(place_orders(url, key, sku, face, orders))
                    procs = [
                        c.Proc(
                            f"worker{i}",
                            [
                                c.venv_bin("steller-server"),
                                "worker",
                                "--concurrency",
                                str(concurrency),
                                "--poll-interval",
                                "0.2",
                                "--no-schedule",
                                "--no-vendor-limits",
                            ],
                            env,
                            tmp / f"worker-{rep}-{workers}-{i}.log",
                        )
                        for i in range(workers)
                    ]
                    before = completed_count(url)
                    with contextlib.ExitStack() as stack:
                        for proc in procs:
                            stack.enter_context(c.running(proc))
                        # CPU is counted from the first completion on, so start-up (imports,
                        # connections) is left out, like the throughput span itself.
                        window = _CpuWindow(url, before, procs, sim)
                        states = wait_terminal(url, ids, timeout=max(60.0, orders / 5))
                        cpu = window.close()
                    done = sorted(
                        t.timestamp()
                        for s, t in states.values()
                        if s == "completed" and t is not None
                    )
                    span = done[-1] - done[0] if len(done) > 1 else float("nan")
                    result = {
                        "orders": orders,
                        "completed": len(done),
                        "other": {
                            s: sum(1 for x, _ in states.values() if x == s)
                            for s in {x for x, _ in states.values()}
                            if s != "completed"
                        },
                        "span_s": round(span, 2),
                        "completed_per_s": round((len(done) - 1) / span, 1) if span > 0 else None,
                        **cpu,
                    }
                    print(f"    {result}", flush=True)
                    runs[f"{workers}w"].append(result)
    summary = {}
    for name, results in runs.items():
        rates = [r["completed_per_s"] for r in results if r["completed_per_s"]]
        summary[name] = {
            "completed_per_s": round(statistics.median(rates), 1) if rates else None,
            "runs": results,
        }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="latency phase seconds")
    parser.add_argument("--rate", type=float, default=10.0, help="orders/s in the latency phase")
    parser.add_argument("--orders", type=int, default=600, help="orders per throughput round")
    parser.add_argument("--workers", default="1,3", help="worker process counts")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs at once per worker")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved throughput rounds")
    parser.add_argument("--phases", default="latency,throughput")
    parser.add_argument(
        "--latency-databases", default="sqlite,postgres", help="sqlite and/or postgres"
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--smoke", action="store_true", help="tiny configuration")
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox)
        return 0
    c.install_sigterm()
    if args.smoke:
        args.duration, args.orders, args.repeat = min(args.duration, 2.0), 20, 1
    phases = args.phases.split(",")
    started = time.time()
    note = c.machine_note()
    print(f"# fulfilment benchmark: {note}", flush=True)
    document: dict[str, Any] = {
        "benchmark": "fulfilment",
        "command": " ".join(sys.argv),
        "machine": note,
    }
    with c.temp_folder("steller-bench-fulfilment-") as tmp_name:
        tmp = Path(tmp_name)
        if "latency" in phases:
            document["latency_by_database"] = {}
            for database in args.latency_databases.split(","):
                print(
                    f"latency: {args.rate}/s for {args.duration} s ({database} sandbox)", flush=True
                )
                result = latency_phase(
                    tmp, rate=args.rate, duration=args.duration, database=database
                )
                print(f"  {result}", flush=True)
                document["latency_by_database"][database] = result
                document.setdefault("latency", result)
        if "throughput" in phases:
            print("throughput (PostgreSQL, steller-server worker processes)", flush=True)
            document["throughput"] = throughput_phase(
                tmp,
                worker_counts=[int(w) for w in args.workers.split(",")],
                orders=args.orders,
                repeat=args.repeat,
                concurrency=args.concurrency,
            )
    document["load_after"] = c.machine_note()["loadavg_1_5_15"]
    document["elapsed_s"] = round(time.time() - started, 1)
    rows = []
    for lat in document.get("latency_by_database", {}).values():
        rows.append(
            [
                f"POST → completed, {lat['rate_per_s']:g}/s, {lat['database']} sandbox, "
                "1 in-process worker",
                f"{lat['orders']} orders",
                c.fmt(lat["p50_ms"]),
                c.fmt(lat["p99_ms"]),
                "-",
            ]
        )
    base = None
    for name, s in document.get("throughput", {}).items():
        rate = s["completed_per_s"]
        base = base or rate
        rows.append(
            [
                f"fulfilment throughput, PostgreSQL, {name[:-1]} worker process(es)",
                f"{args.orders} orders x {args.repeat}",
                "-",
                "-",
                f"{c.fmt(rate)}/s" + (f" (x{rate / base:.2f})" if rate and base else ""),
            ]
        )
    print()
    print(c.table(["measurement", "size", "p50 ms", "p99 ms", "completed/s"], rows))
    print(
        f"\nload average before {note['loadavg_1_5_15']}, after {document['load_after']}; "
        f"{document['elapsed_s']} s"
    )
    c.write_json(args.json, document)
    latency = document.get("latency_by_database", {}).values()
    if args.smoke and any(lat["final_status"].get("completed", 0) == 0 for lat in latency):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, c.StopBench):
        print("interrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
