"""Benchmark: ``POST /api/orders`` with 32 concurrent clients against real server processes.

    .venv/bin/python bench/orders.py [--duration 10] [--repeat 3] [--json out.json]
        [--databases sqlite,postgres] [--workers 1,2] [--profile DIR] [--smoke]

For each database (a throwaway SQLite file / a throwaway PostgreSQL database ``steller_bench_<hex>``
on ``STELLER_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``) and
each server process count (``steller-server serve --workers N``; SQLite serves from one process),
``wrk -t2 -c32 --latency`` posts orders (``bench/lua/orders.lua``: a fixed 5.00 USD card, every
``referenceId`` unique) on ONE hot wallet (one partner, one key) and on 100 wallets (100 partners,
each its own key, rotated per request). Measured in the same run, interleaved with them:

* ceiling (a): a bare Starlette ``POST /api/orders`` (parses the same JSON body, answers 202) under
  the same uvicorn settings (uvloop, httptools, same worker count, access log off), same script;
* ceiling (b) (PostgreSQL): ``pgbench -M prepared -c32 -j2`` replaying exactly the SQL one order
  issues. The statements are captured where psycopg sends them (every cursor execute with its
  parameters, whether SQLAlchemy or ``db/driver.py`` runs it; the ``BEGIN`` psycopg sends before
  a transaction's first statement, never in autocommit; ``COMMIT``/``ROLLBACK``; a ``SELECT 1``
  per pool checkout only if ``pool_pre_ping`` is on: the server's own ping runs only on
  connections that sat idle, never under load) around one in-process ``POST /api/orders``
  through the ASGI app, per partner (the second order of each, so the once-a-minute key touch is
  not in it, and the key is then in the process's 5 s authentication cache, as it is under
  load); values that
  differ between two captures (order, ledger and request ids, vendor UUID, referenceId) become
  expressions of a per-client counter, so every replayed transaction is unique. One hot wallet:
  one script; 100 wallets: 100 scripts, pgbench picks one per transaction.

Reported per configuration: orders/s, p50/p90/p99 (ms), errors (non-2xx or socket errors), the
ratio to each ceiling; medians over ``--repeat`` interleaved rounds. The server's in-process
worker (SQLite) runs as in production. ``--profile DIR`` records py-spy flame data of one server
process during one extra PostgreSQL run and prints its top frames.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

CLIENTS = 32
SPREAD = 100
FACE = "5.00"

_ID_TOKEN = re.compile(r"\b[a-z]{2,5}_[0-9A-Za-z]{20}\b")
_UUID_TOKEN = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


# -- capturing the SQL of one order ------------------------------------------------------------

Statement = tuple[str, dict[str, Any] | None]


async def capture_orders(
    url: str, keys: list[str], sku: str
) -> list[tuple[list[Statement], list[Statement]]]:
    """For each key: the statements of its 2nd and 3rd order (in-process, through the ASGI app)."""
    import httpx  # noqa: PLC0415
    import psycopg  # noqa: PLC0415
    from sqlalchemy import event  # noqa: PLC0415

    from steller_server.app import create_app  # noqa: PLC0415

    app = create_app(c.settings_for(url))
    out: list[tuple[list[Statement], list[Statement]]] = []
    log: list[Statement] = []
    async with app.router.lifespan_context(app):
        # The request-log sink writes in the background: stop it so that no statement of its
        # interleaves with an order's (its records stay buffered and are written at shutdown).
        await app.state.steller.extras["request_logs"].stop()
        engine = app.state.steller.db.engine.sync_engine
        # The server pings a pooled connection only after it sat idle (db/engine.py), never
        # under load or between these back-to-back orders; ``pool_pre_ping`` would ping always.
        pre_ping = bool(getattr(engine.pool, "_pre_ping", False))

        def on_checkout(*_args: Any) -> None:
            if pre_ping:
                log.append(("SELECT 1", None))

        # Recorded where psycopg sends them, so statements the server runs on the driver
        # connection (db/driver.py) are seen as well as SQLAlchemy's: every cursor execute with
        # its parameters, the BEGIN psycopg sends before the first statement of a transaction
        # (never in autocommit: Database.statement()), COMMIT and ROLLBACK when one is open.
        idle = psycopg.pq.TransactionStatus.IDLE
        real_execute = psycopg.AsyncCursor.execute
        real_commit = psycopg.AsyncConnection.commit
        real_rollback = psycopg.AsyncConnection.rollback

        async def execute(cursor: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            connection = cursor.connection
            if not connection.autocommit and connection.info.transaction_status == idle:
                log.append(("BEGIN", None))
            if isinstance(query, str):
                text = query
            elif isinstance(query, bytes | bytearray):
                text = bytes(query).decode()
            else:  # psycopg.sql.Composable
                text = query.as_string(connection)
            if params is None or isinstance(params, dict):
                log.append((text, dict(params) if params else None))
            else:
                log.append((text, {"positional": True}))  # never part of one order
            return await real_execute(cursor, query, params, **kwargs)

        async def commit(connection: Any) -> None:
            if connection.info.transaction_status != idle:
                log.append(("COMMIT", None))
            await real_commit(connection)

        async def rollback(connection: Any) -> None:
            if connection.info.transaction_status != idle:
                log.append(("ROLLBACK", None))
            await real_rollback(connection)

        event.listen(engine.pool, "checkout", on_checkout)
        psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign]
        psycopg.AsyncConnection.commit = commit  # type: ignore[method-assign]
        psycopg.AsyncConnection.rollback = rollback  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def one(key: str) -> list[Statement]:
                log.clear()
                response = await client.post(
                    "/api/orders", headers={"x-api-key": key},
                    json={"sku": sku, "faceValue": FACE, "quantity": 1,
                          "referenceId": f"capture-{secrets.token_hex(8)}"},
                )  # fmt: skip
                if response.status_code != 202:
                    raise RuntimeError(f"capture order failed: {response.text}")
                return list(log)

            for key in keys:
                await one(key)  # the first use of a key also records it (last_used_at)
                out.append((await one(key), await one(key)))
        psycopg.AsyncCursor.execute = real_execute  # type: ignore[method-assign]
        psycopg.AsyncConnection.commit = real_commit  # type: ignore[method-assign]
        psycopg.AsyncConnection.rollback = real_rollback  # type: ignore[method-assign]
        event.remove(engine.pool, "checkout", on_checkout)
    # Every order must have issued the same statements; anything else means something else
    # (a background task) ran SQL during a capture.
    shapes = Counter(tuple(sql for sql, _ in pair[0]) for pair in out)
    shapes.update(tuple(sql for sql, _ in pair[1]) for pair in out)
    if len(shapes) != 1:
        raise RuntimeError(f"captured orders differ in their statements: {len(shapes)} shapes")
    return out


def _sql_string(text: str, tokens: dict[str, str]) -> str:
    """``text`` as a SQL expression: literal pieces, token expressions, ``:`` as ``chr(58)`` (a
    bare ``:name`` would be a pgbench variable)."""
    tokens = {t: e for t, e in tokens.items() if t in text}
    if not tokens and ":" not in text:
        return "'" + text.replace("'", "''") + "'"
    pieces: list[str] = []
    pattern = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    parts = re.split(f"({pattern})", text) if pattern else [text]
    for part in parts:
        if not part:
            continue
        if part in tokens:
            pieces.append(tokens[part])
            continue
        for i, chunk in enumerate(part.split(":")):
            if i:
                pieces.append("chr(58)")
            if chunk:
                pieces.append("'" + chunk.replace("'", "''") + "'")
    return "(''::text || " + " || ".join(pieces) + ")"


def _literal(value: Any, tokens: dict[str, str]) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, datetime):
        stamp = (
            f"to_timestamp({value.timestamp()!r})"
            if value.tzinfo
            else f"(to_timestamp({value.timestamp()!r}) AT TIME ZONE 'UTC')"
        )
        return stamp
    if isinstance(value, date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, bytes | bytearray | memoryview):
        return "'\\x" + bytes(value).hex() + "'::bytea"
    if hasattr(value, "obj"):  # psycopg Json/Jsonb wrappers
        value = value.obj
    if isinstance(value, dict | list):
        value = json.dumps(value, separators=(",", ":"))
    return _sql_string(str(value), tokens)


def _tokens(first: list[Statement], second: list[Statement], run: str) -> dict[str, str]:
    """Values generated per order (present in one capture, absent from the other) → expressions
    of ``:u`` (unique per pgbench transaction within this run)."""

    def texts(statements: list[Statement]) -> str:
        return "\n".join(json.dumps(p, default=str) for _, p in statements if p)

    a, b = texts(first), texts(second)
    found: list[str] = []
    for regex in (_ID_TOKEN, _UUID_TOKEN, re.compile(r"capture-[0-9a-f]{16}")):
        for token in regex.findall(a):
            if token not in b and token not in found:
                found.append(token)
    out: dict[str, str] = {}
    for index, token in enumerate(found):
        if _UUID_TOKEN.fullmatch(token):
            out[token] = f"'{run[:8]}-{index:04d}-4000-8000-' || lpad(:u::text, 12, '0')"
        elif token.startswith("capture-"):
            out[token] = f"'pgb-{run}-{index}-' || :u::text"
        else:
            prefix = token.split("_", 1)[0]
            out[token] = f"'{prefix}_{run}{index}x' || :u::text"
    return out


def _from_wallet_update(name: str, params: dict[str, Any]) -> str | None:
    """Ledger values the server takes from the wallet UPDATE's RETURNING row (``\\gset w_``)."""
    if name == "wallet_seq":
        return ":w_version::bigint"
    if name == "balance_after_minor":
        return ":w_balance_minor::bigint"
    if name == "balance_before_minor":
        return f":w_balance_minor::bigint - ({int(params['amount_minor'])})"
    return None


def pgbench_script(statements: list[Statement], tokens: dict[str, str]) -> str:
    """The statements as a pgbench script: literals inlined, per-order values from ``:u``,
    ``BEGIN``/``COMMIT`` and a pre-ping ``SELECT 1`` where they happen. On PostgreSQL the server
    posts debit + ledger row as one CTE statement (replayed as is); a separate guarded wallet
    UPDATE (the older two-statement form) has its RETURNING row kept in ``w_*`` for the ledger
    INSERT, as the server would."""
    lines = ["\\set n :n + 1", "\\set u :client_id * 1000000000 + :n"]
    after_wallet_update = False
    for sql, params in statements:
        text = sql
        if params:
            linked_ledger = after_wallet_update and "INSERT INTO ledger_entries" in sql

            def render(
                match: re.Match[str],
                values: dict[str, Any] = params,
                linked_ledger: bool = linked_ledger,
            ) -> str:
                name = match.group(1)
                linked = _from_wallet_update(name, values) if linked_ledger else None
                if linked is not None:
                    return f"({linked})"
                return "(" + _literal(values[name], tokens) + ")"

            text = _PLACEHOLDER.sub(render, sql)
        text = " ".join(text.replace("%%", "%").split())
        is_wallet_update = text.startswith("UPDATE wallets") and "RETURNING" in text
        lines.append(text + (" \\gset w_" if is_wallet_update else ";"))
        after_wallet_update = after_wallet_update or is_wallet_update
    return "\n".join(lines) + "\n"


def write_scripts(
    captures: list[tuple[list[Statement], list[Statement]]], folder: Path, label: str
) -> list[Path]:
    """One pgbench script per captured partner, with a fresh run token (unique ids per run)."""
    run = secrets.token_hex(4)
    paths = []
    for index, (first, second) in enumerate(captures):
        path = folder / f"{label}-{run}-{index:03d}.sql"
        path.write_text(pgbench_script(first, _tokens(first, second, run)))
        paths.append(path)
    return paths


def run_pgbench(url: str, scripts: list[Path], *, duration: float, folder: Path) -> c.LoadResult:
    logs = folder / f"pgblog-{secrets.token_hex(3)}"
    logs.mkdir()
    argv = [
        "pgbench",
        "-n",
        "-M",
        "prepared",
        f"-c{CLIENTS}",
        "-j2",
        f"-T{max(1, round(duration))}",
        "-D",
        "n=0",
        "-l",
        f"--log-prefix={logs / 'tx'}",
    ]
    for script in scripts:
        argv += ["-f", f"{script}@1"]
    argv.append(url)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with c.CpuMeter({"postgres": c.postgres_pids}) as meter:
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=duration + 120, cwd=folder
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {
        "postgres": meter.seconds["postgres"],
        "client": (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime),
    }
    output = done.stdout + done.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    aborted = "aborted" in output and "client" in output and done.returncode != 0
    if tps is None or processed is None:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{output[-3000:]}")
    latencies: list[float] = []
    for log_file in logs.iterdir():
        for line in log_file.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
    result = c.LoadResult(
        requests=int(processed.group(1)), seconds=duration, rps=float(tps.group(1)),
        p50_ms=c.percentile(latencies, 50), p90_ms=c.percentile(latencies, 90),
        p99_ms=c.percentile(latencies, 99),
        errors=(int(failed.group(1)) if failed else 0) + (1 if aborted else 0),
        extra={"stderr_tail": done.stderr[-500:]} if done.returncode else {},
    )  # fmt: skip
    return _with_cpu(result, cpu)


def _with_cpu(result: c.LoadResult, seconds: dict[str, float]) -> c.LoadResult:
    """Record the CPU each process group spent per order (ms) in ``result.extra``."""
    if result.requests:
        result.extra["cpu_ms_per_order"] = {
            name: round(1000 * cpu / result.requests, 3) for name, cpu in seconds.items()
        }
    return result


# -- the run -----------------------------------------------------------------------------------


def count_orders(url: str) -> int:
    from sqlalchemy import create_engine, text  # noqa: PLC0415
    from sqlalchemy.pool import NullPool  # noqa: PLC0415

    from steller_server.db.migrate import sync_url  # noqa: PLC0415

    engine = create_engine(sync_url(c.settings_for(url).database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM orders")).scalar_one())
    finally:
        engine.dispose()


def profile_top(raw: Path, limit: int = 25) -> dict[str, Any]:
    """Top frames of a py-spy ``--format raw`` file, over the samples inside a request (under
    the request-context middleware): own time, and inclusive for our code and SQLAlchemy."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = everything = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        everything += n
        if "RequestContextMiddleware" not in stack:
            continue
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n

    def share(counter: Counter[str], keep: Any) -> list[str]:
        return [f"{n / total:6.1%}  {f}" for f, n in counter.most_common(400) if keep(f)][:limit]

    return {
        "samples": everything,
        "request_samples": total,
        "own": share(own, lambda _f: True),
        "inclusive_steller_sqlalchemy": share(
            incl, lambda f: "steller_server" in f or "sqlalchemy/engine" in f
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--workers", default="1,2", help="server process counts")
    parser.add_argument("--profile", help="record a py-spy profile (raw) into this folder")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny configuration: 3 wallets, 1 round, checks only that it runs",
    )
    args = parser.parse_args()
    c.install_sigterm()
    databases = [d for d in args.databases.split(",") if d]
    worker_counts = [int(w) for w in args.workers.split(",") if w]
    spread = 3 if args.smoke else SPREAD
    repeat = 1 if args.smoke else args.repeat
    started = time.time()
    note = c.machine_note()
    print(f"# orders benchmark: {note}", flush=True)
    measured: dict[str, list[c.LoadResult]] = {}
    info: dict[str, Any] = {"orders_in_db": {}}

    def record(name: str, result: c.LoadResult) -> None:
        measured.setdefault(name, []).append(result)
        print(
            f"  {name:<28} {result.rps:9.1f}/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:8.2f} ms  errors {result.errors}",
            flush=True,
        )

    with c.temp_folder("steller-bench-orders-") as tmp_name:
        tmp = Path(tmp_name)
        urls: dict[str, str] = {}
        seeded: dict[str, c.Seeded] = {}
        scripts_src: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:
            for kind in databases:
                url = stack.enter_context(c.throwaway_database(kind, tmp))
                c.migrate(url)
                seeded[kind] = c.seed_sync(url, partners=spread)
                urls[kind] = url
                if kind == "postgres":
                    scripts_src["captures"] = asyncio.run(
                        capture_orders(url, seeded[kind].keys, seeded[kind].skus[0])
                    )
                    sample = write_scripts(scripts_src["captures"][:1], tmp, "sample")[0]
                    info["pgbench_script_one_order"] = sample.read_text()
            key_files = {
                kind: (
                    c.write_lines(tmp / f"keys-hot-{kind}.txt", s.keys[:1]),
                    c.write_lines(tmp / f"keys-spread-{kind}.txt", s.keys),
                )
                for kind, s in seeded.items()
            }

            def wrk_orders(
                port: int, keys: Path, kind: str, proc: c.Proc | None = None
            ) -> c.LoadResult:
                sku = seeded[kind].skus[0] if kind in seeded else "BENCH-US-USD-000"
                groups: dict[str, Callable[[], Sequence[int]]] = {}
                if proc is not None:  # the server's processes, and PostgreSQL's it drives
                    server_pids = proc.pids  # fixed while it serves: pgrep once, not per poll
                    groups["server"] = lambda: server_pids
                    if kind == "postgres":
                        groups["postgres"] = c.postgres_pids
                with c.CpuMeter(groups) as meter:
                    result = c.run_wrk(
                        f"http://{c.HOST}:{port}", duration=args.duration, connections=CLIENTS,
                        script=c.LUA_DIR / "orders.lua",
                        script_args=[str(keys), sku, FACE, f"w{secrets.token_hex(4)}"],
                    )  # fmt: skip
                return _with_cpu(result, meter.seconds)

            for rep in range(repeat):
                print(
                    f"round {rep + 1}/{repeat} (load {c.machine_note()['loadavg_1_5_15']})",
                    flush=True,
                )
                for workers in worker_counts:
                    with c.running(c.bare_server(workers=workers, logs=tmp)) as bare:
                        any_keys = (
                            next(iter(key_files.values()))[0]
                            if key_files
                            else c.write_lines(tmp / "keys-none.txt", ["none"])
                        )
                        record(f"bare/{workers}w", wrk_orders(bare.port or 0, any_keys, ""))
                    for kind in databases:
                        if kind == "sqlite" and workers > 1:
                            continue
                        server = c.steller_server(urls[kind], workers=workers, logs=tmp)
                        with c.running(server) as proc:
                            hot, spread_keys = key_files[kind]
                            record(
                                f"{kind}/{workers}w/hot",
                                wrk_orders(proc.port or 0, hot, kind, proc),
                            )
                            record(
                                f"{kind}/{workers}w/spread",
                                wrk_orders(proc.port or 0, spread_keys, kind, proc),
                            )
                if "postgres" in urls:
                    captures = scripts_src["captures"]
                    record(
                        "pgbench/hot",
                        run_pgbench(
                            urls["postgres"],
                            write_scripts(captures[:1], tmp, "hot"),
                            duration=args.duration,
                            folder=tmp,
                        ),
                    )
                    record(
                        "pgbench/spread",
                        run_pgbench(
                            urls["postgres"],
                            write_scripts(captures, tmp, "spread"),
                            duration=args.duration,
                            folder=tmp,
                        ),
                    )
            if args.profile and "postgres" in urls:
                folder = Path(args.profile)
                folder.mkdir(parents=True, exist_ok=True)
                workers = max(worker_counts)
                with c.running(
                    c.steller_server(urls["postgres"], workers=workers, logs=tmp)
                ) as proc:
                    wrk_orders(proc.port or 0, key_files["postgres"][1], "postgres")  # warm-up
                    # The uvicorn supervisor and, with --subprocesses, every worker process.
                    pid = proc.pids[0]
                    raw = folder / f"orders-postgres-{workers}w-pid{pid}.txt"
                    spy = subprocess.Popen(
                        [c.venv_bin("py-spy"), "record", "--format", "raw", "-o", str(raw),
                         "-r", "200", "-d", str(max(2, round(args.duration))), "--subprocesses",
                         "-p", str(pid)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                    record(
                        f"profiled/postgres/{workers}w/spread",
                        wrk_orders(proc.port or 0, key_files["postgres"][1], "postgres"),
                    )
                    spy.wait(timeout=args.duration + 60)
                if raw.exists():
                    info["profile"] = {"file": str(raw), **profile_top(raw)}
            for kind, url in urls.items():
                info["orders_in_db"][kind] = count_orders(url)

    summary = {name: c.median_result(results) for name, results in measured.items()}
    for name, results in measured.items():
        per_run = [r.extra["cpu_ms_per_order"] for r in results if "cpu_ms_per_order" in r.extra]
        if per_run:
            summary[name]["cpu_ms_per_order"] = {
                group: round(statistics.median(run[group] for run in per_run), 3)
                for group in per_run[0]
            }
    rows = []
    for name, s in summary.items():
        parts = name.split("/")
        ratio_a = ratio_b = None
        if parts[0] in ("sqlite", "postgres"):
            ceiling = summary.get(f"bare/{parts[1]}")
            if ceiling:
                ratio_a = s["rps"] / ceiling["rps"]
            pg = summary.get(f"pgbench/{parts[2]}")
            if parts[0] == "postgres" and pg:
                ratio_b = s["rps"] / pg["rps"]
        s["ratio_to_bare"] = None if ratio_a is None else round(ratio_a, 4)
        s["ratio_to_pgbench"] = None if ratio_b is None else round(ratio_b, 4)
        rows.append(
            [
                name,
                c.fmt(s["rps"]),
                c.fmt(s["p50_ms"], 2),
                c.fmt(s["p99_ms"], 2),
                s["errors"],
                "-" if ratio_a is None else f"{ratio_a:.1%}",
                "-" if ratio_b is None else f"{ratio_b:.1%}",
                " / ".join(
                    f"{group} {ms:.2f}" for group, ms in s.get("cpu_ms_per_order", {}).items()
                )
                or "-",
            ]
        )
    verdicts = {}
    for name in ("postgres/2w/hot", "postgres/2w/spread"):
        found = summary.get(name)
        if found and found.get("ratio_to_pgbench") is not None:
            verdicts[name] = {
                "ratio_to_pgbench_ge_40pct": found["ratio_to_pgbench"] >= 0.40,
                "p99_under_50ms": found["p99_ms"] < 50,
            }
    print()
    print(
        c.table(
            [
                "config",
                "orders/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "vs bare (a)",
                "vs pgbench (b)",
                "CPU ms per order",
            ],
            rows,
        )
    )
    if "profile" in info:
        print("\nprofile (own time, top frames):")
        print("\n".join(info["profile"]["own"][:15]))
        print("\nprofile (inclusive, steller_server / sqlalchemy.engine):")
        print("\n".join(info["profile"]["inclusive_steller_sqlalchemy"][:25]))
    document = {
        "benchmark": "orders",
        "command": " ".join(sys.argv),
        "machine": note,
        "load_after": c.machine_note()["loadavg_1_5_15"],
        "clients": CLIENTS,
        "duration_s": args.duration,
        "repeat": repeat,
        "spread_wallets": spread,
        "elapsed_s": round(time.time() - started, 1),
        "results": summary,
        "targets_postgres_2w": verdicts,
        **info,
    }
    c.write_json(args.json, document)
    bad = [n for n, s in summary.items() if s["errors"]]
    if bad:
        print(f"\nerrors in: {', '.join(bad)}", file=sys.stderr)
    print(
        f"\nload average before {note['loadavg_1_5_15']}, after "
        f"{document['load_after']}; {document['elapsed_s']} s"
    )
    return 1 if bad and args.smoke else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, c.StopBench):
        print("interrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
