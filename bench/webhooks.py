"""Benchmark: webhook delivery from the durable job table to a local HTTP receiver.

    .venv/bin/python bench/webhooks.py                       # SQLite file in a temp dir
    STELLER_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/webhooks.py                   # a throwaway PostgreSQL database

The receiver is a minimal ASGI app under uvicorn in its own process; it notes the arrival time of
every ``webhook-id`` (``/hang/…`` paths answer only after 10 s). Events are written with
``record_event`` in batches (the commit time is the "state change"); workers are
:class:`steller_server.jobs.worker.Worker` instances (``--concurrency`` slots each, 50 ms idle poll)
in this process, delivering through the real handler (signing, HTTP, bookkeeping).

Phases (one JSON document on stdout):

* ``throughput``: ``--events`` (10,000) queued at once, delivered by 1 and by 2 workers: events/s
  and latency from commit to receipt (p50/p99, dominated by queueing in a burst). ``--repeat``
  rounds alternate 1 and 2 workers; each figure is the median of the rounds (all in ``runs``);
  ``jobOutcomes.later`` counts jobs put back by the per-endpoint gate.
* ``paced``: events written at ``--rate``/s for ``--paced-seconds``: latency p50/p99 under load.
* ``isolation``: a healthy partner's ``--isolation-events`` alone, then again behind a partner whose
  receiver hangs 10 s on every request (``--hung-events`` queued first). The healthy partner's
  delivery rate must not drop by more than 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from steller_server.db.engine import Database
from steller_server.db.migrate import sync_url, upgrade
from steller_server.domain import events, jobs, webhooks
from steller_server.domain.partners import create_partner
from steller_server.jobs.delivery import CLIENT_KEY
from steller_server.jobs.worker import Worker
from steller_server.settings import Settings

SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
HANG_SECONDS = 10.0
BATCH = 500


# -- the receiver (its own process) -------------------------------------------------------------


def _receiver_main(port: int) -> None:
    import uvicorn  # noqa: PLC0415 (only the receiver process needs it)

    received: dict[str, float] = {}

    async def app(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] == "GET":
            body = json.dumps(received).encode() if path == "/dump" else str(len(received)).encode()
            if path == "/reset":
                received.clear()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        if path.startswith("/hang"):
            await asyncio.sleep(HANG_SECONDS)
        else:
            headers = dict(scope["headers"])
            received.setdefault(headers[b"webhook-id"].decode(), time.time())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        limit_concurrency=None,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- helpers ------------------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


class Bench:
    def __init__(self, db: Database, settings: Settings, receiver: str, concurrency: int) -> None:
        self.db = db
        self.settings = settings
        self.receiver = receiver
        self.concurrency = concurrency
        self.http = httpx.AsyncClient(base_url=receiver, timeout=30)
        #: Outcomes of the workers of the last run (``later`` counts jobs put back).
        self.last_stats: dict[str, int] = {}

    async def partner(self, name: str, path: str) -> str:
        partner, _ = await create_partner(
            self.db,
            name=name,
            email=f"{secrets.token_hex(4)}@bench.example",
            actor="bench",
            settings=self.settings,
        )
        await webhooks.configure_endpoint(
            self.db,
            partner_id=partner.id,
            url=f"{self.receiver}{path}",
            mode="sandbox",
            cipher=webhooks.secret_cipher(self.settings.effective_secret_key),
            actor="bench",
        )
        return str(partner.id)

    async def record(self, partner_id: str, count: int) -> dict[str, float]:
        """Write ``count`` events in batches; returns event id → commit time."""
        committed: dict[str, float] = {}
        for start in range(0, count, BATCH):
            ids = []
            async with self.db.write() as conn:
                for _ in range(min(BATCH, count - start)):
                    event = await events.record_event(
                        conn,
                        partner_id=partner_id,
                        event_type="webhook.test",
                        data={"message": "bench"},
                    )
                    ids.append(event.id)
            now = time.time()
            committed.update(dict.fromkeys(ids, now))
        return committed

    async def received(self) -> dict[str, float]:
        return dict((await self.http.get("/dump")).json())

    async def count(self) -> int:
        return int((await self.http.get("/count")).text)

    async def reset(self) -> None:
        await self.http.get("/reset")

    def workers(self, n: int) -> list[Worker]:
        return [
            Worker(
                self.db,
                self.settings,
                kinds=[jobs.WEBHOOK_DELIVERY],
                concurrency=self.concurrency,
                poll_interval=0.05,
                worker_id=f"bench-{i}",
            )
            for i in range(n)
        ]

    async def run_until(
        self, workers: list[Worker], done: Callable[[], Any], limit: float = 600.0
    ) -> None:
        tasks = [asyncio.create_task(w.run_forever()) for w in workers]
        deadline = time.monotonic() + limit
        try:
            while not await done():
                if time.monotonic() > deadline:
                    raise TimeoutError("deliveries did not finish in time")
                await asyncio.sleep(0.1)  # polling the receiver's counter, not synchronising work
        finally:
            for w in workers:
                w.stop()
            await asyncio.gather(*tasks)
            self.last_stats = {
                name: sum(w.stats[name] for w in workers) for name in workers[0].stats
            }
            for w in workers:
                client = w.context.extras.get(CLIENT_KEY)
                if client is not None:
                    await client.aclose()

    async def clear_queue(self) -> None:
        async with self.db.write() as conn:
            await conn.execute(text("DELETE FROM jobs"))


async def throughput(
    bench: Bench, partner_id: str, n_events: int, n_workers: int
) -> dict[str, Any]:
    await bench.reset()
    committed = await bench.record(partner_id, n_events)
    started = time.time()
    await bench.run_until(bench.workers(n_workers), lambda: _at_least(bench, n_events))
    received = await bench.received()
    latencies = [received[e] - t for e, t in committed.items() if e in received]
    last = max(received.values())
    return {
        "workers": n_workers,
        "events": n_events,
        "seconds": round(last - started, 2),
        "eventsPerSecond": round(n_events / (last - started), 1),
        "latencyP50Ms": round(_percentile(latencies, 50) * 1000, 1),
        "latencyP99Ms": round(_percentile(latencies, 99) * 1000, 1),
        "jobOutcomes": bench.last_stats,
    }


def _medians(workers: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("eventsPerSecond", "latencyP50Ms", "latencyP99Ms")
    return {
        "workers": workers,
        "events": runs[0]["events"],
        "rounds": len(runs),
        **{key: round(statistics.median(r[key] for r in runs), 1) for key in keys},
        "runs": runs,
    }


async def _at_least(bench: Bench, n: int) -> bool:
    return await bench.count() >= n


async def paced(bench: Bench, partner_id: str, rate: int, seconds: float) -> dict[str, Any]:
    await bench.reset()
    workers = bench.workers(1)
    tasks = [asyncio.create_task(w.run_forever()) for w in workers]
    committed: dict[str, float] = {}
    per_tick = max(1, rate // 20)
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        async with bench.db.write() as conn:
            ids = [
                (
                    await events.record_event(
                        conn,
                        partner_id=partner_id,
                        event_type="webhook.test",
                        data={"message": "paced"},
                    )
                ).id
                for _ in range(per_tick)
            ]
        now = time.time()
        committed.update(dict.fromkeys(ids, now))
        tick += 1
        await asyncio.sleep(max(0.0, start + tick / 20 - time.monotonic()))  # the pacing itself
    total = len(committed)
    deadline = time.monotonic() + 120
    while await bench.count() < total and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # polling the receiver's counter
    for w in workers:
        w.stop()
    await asyncio.gather(*tasks)
    for w in workers:
        client = w.context.extras.get(CLIENT_KEY)
        if client is not None:
            await client.aclose()
    received = await bench.received()
    latencies = [received[e] - t for e, t in committed.items() if e in received]
    return {
        "ratePerSecond": rate,
        "events": total,
        "delivered": len(latencies),
        "latencyP50Ms": round(_percentile(latencies, 50) * 1000, 1),
        "latencyP99Ms": round(_percentile(latencies, 99) * 1000, 1),
    }


async def isolation(
    bench: Bench, healthy_id: str, hung_id: str, *, n_healthy: int, n_hung: int, rounds: int
) -> dict[str, Any]:
    async def healthy_rate(with_hung: bool) -> float:
        await bench.reset()
        await bench.clear_queue()
        if with_hung:
            await bench.record(hung_id, n_hung)  # queued first: claimed first
        committed = await bench.record(healthy_id, n_healthy)
        started = time.time()
        await bench.run_until(bench.workers(1), lambda: _at_least(bench, n_healthy))
        received = await bench.received()
        last = max(received[e] for e in committed)
        return n_healthy / (last - started)

    # Alternate the two cases and compare medians: the machine's load drifts between runs.
    alone_runs: list[float] = []
    behind_runs: list[float] = []
    for _ in range(rounds):
        alone_runs.append(await healthy_rate(False))
        behind_runs.append(await healthy_rate(True))
    await bench.clear_queue()
    alone, behind = statistics.median(alone_runs), statistics.median(behind_runs)
    return {
        "healthyEvents": n_healthy,
        "hungEvents": n_hung,
        "hangSeconds": HANG_SECONDS,
        "rounds": rounds,
        "healthyAloneEventsPerSecond": [round(r, 1) for r in alone_runs],
        "healthyWithHungEventsPerSecond": [round(r, 1) for r in behind_runs],
        "dropPercentOfMedians": round(max(0.0, (alone - behind) / alone * 100), 1),
        "withinTenPercent": behind >= 0.9 * alone,
    }


def _postgres(url: str) -> tuple[str, Callable[[], None]]:
    name = f"steller_bench_{secrets.token_hex(4)}"
    admin = create_engine(
        make_url(sync_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_url(sync_url(url)).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return target, drop


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    pg = os.environ.get("STELLER_BENCH_POSTGRES_URL")
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if pg:
        url, cleanup = _postgres(pg)
    else:
        tmp = tempfile.mkdtemp(prefix="steller-bench-")
        url = f"sqlite:///{tmp}/bench.sqlite3"
    settings = Settings(mode="sandbox", secret_key=SECRET).replace(database_url=url)
    upgrade(settings)
    port = _free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=_receiver_main, args=(port,), daemon=True
    )
    process.start()
    receiver = f"http://127.0.0.1:{port}"
    db = Database.from_settings(settings, pool_size=40, max_overflow=40)
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    await probe.get(f"{receiver}/count")
                    break
                await asyncio.sleep(0.1)  # waiting for the receiver process to listen
        bench = Bench(db, settings, receiver, args.concurrency)
        fast = await bench.partner("Fast", "/hooks")
        result: dict[str, Any] = {
            "database": "postgresql" if pg else "sqlite",
            "concurrencyPerWorker": args.concurrency,
            "cpus": os.cpu_count(),
        }
        if "throughput" in args.phases:
            runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
            for _ in range(args.repeat):
                for n, done in runs.items():  # alternate: the machine's load drifts
                    done.append(await throughput(bench, fast, args.events, n))
            result["throughput"] = [_medians(n, r) for n, r in runs.items()]
        if "paced" in args.phases:
            result["paced"] = await paced(bench, fast, args.rate, args.paced_seconds)
        if "isolation" in args.phases:
            hung = await bench.partner("Hung", "/hang")
            result["isolation"] = await isolation(
                bench,
                fast,
                hung,
                n_healthy=args.isolation_events,
                n_hung=args.hung_events,
                rounds=args.rounds,
            )
        await bench.http.aclose()
        return result
    finally:
        await db.dispose()
        process.terminate()
        process.join()
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--isolation-events", type=int, default=3_000)
    parser.add_argument("--hung-events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="isolation rounds")
    parser.add_argument("--repeat", type=int, default=1, help="throughput rounds")
    parser.add_argument(
        "--phases",
        nargs="+",
        default=["throughput", "paced", "isolation"],
        choices=["throughput", "paced", "isolation"],
    )
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
