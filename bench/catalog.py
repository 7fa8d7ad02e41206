"""Benchmark: a catalog page of 50 products vs a bare Starlette GET of the same JSON body.

    .venv/bin/python bench/catalog.py [--duration 10] [--repeat 3] [--json out.json]
        [--databases postgres] [--workers 1,2] [--smoke]

One partner (rate limits lifted) with 60 approved products (so a page is full) in a throwaway
database (PostgreSQL by default: ``steller_bench_<hex>`` on ``STELLER_BENCH_POSTGRES_URL``).
``wrk -t2 -c32 --latency`` (``bench/lua/get.lua``) drives ``GET /api/brand/getCatalog?limit=50``
on ``steller-server serve --workers N``, and, interleaved with it, the ceiling: a bare Starlette
``GET`` under the same uvicorn settings (uvloop, httptools, same worker count, access log off) that
serialises the very page the server returned (captured once, parsed, re-encoded per request).
Medians over ``--repeat`` interleaved rounds; target: the catalog reaches >= 50 % of the bare GET.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

CLIENTS = 32
PAGE = "/api/brand/getCatalog?limit=50"


def fetch(port: int, path: str, key: str) -> bytes:
    conn = http.client.HTTPConnection(c.HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"x-api-key": key})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        return body
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--databases", default="postgres")
    parser.add_argument("--workers", default="1,2", help="server process counts")
    parser.add_argument("--smoke", action="store_true", help="one round, checks only that it runs")
    args = parser.parse_args()
    c.install_sigterm()
    databases = [d for d in args.databases.split(",") if d]
    worker_counts = [int(w) for w in args.workers.split(",") if w]
    repeat = 1 if args.smoke else args.repeat
    started = time.time()
    note = c.machine_note()
    print(f"# catalog benchmark: {note}", flush=True)
    measured: dict[str, list[c.LoadResult]] = {}
    info: dict[str, Any] = {}

    def record(name: str, result: c.LoadResult) -> None:
        measured.setdefault(name, []).append(result)
        print(
            f"  {name:<22} {result.rps:9.1f}/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:8.2f} ms  errors {result.errors}",
            flush=True,
        )

    def load(port: int, key: str) -> c.LoadResult:
        return c.run_wrk(
            f"http://{c.HOST}:{port}",
            duration=args.duration,
            connections=CLIENTS,
            script=c.LUA_DIR / "get.lua",
            script_args=[PAGE, key],
        )

    with c.temp_folder("steller-bench-catalog-") as tmp_name:
        tmp = Path(tmp_name)
        with contextlib.ExitStack() as stack:
            urls: dict[str, str] = {}
            keys: dict[str, str] = {}
            for kind in databases:
                url = stack.enter_context(c.throwaway_database(kind, tmp))
                c.migrate(url)
                keys[kind] = c.seed_sync(url, partners=1, products=60).keys[0]
                urls[kind] = url
            body_file = tmp / "page.json"
            first = databases[0]
            with c.running(c.steller_server(urls[first], workers=1, logs=tmp)) as proc:
                body = fetch(proc.port or 0, PAGE, keys[first])
            page = json.loads(body)
            if len(page["data"]) != 50:
                raise RuntimeError(f"expected a page of 50 products, got {len(page['data'])}")
            body_file.write_bytes(body)
            info["page_bytes"] = len(body)
            for rep in range(repeat):
                print(
                    f"round {rep + 1}/{repeat} (load {c.machine_note()['loadavg_1_5_15']})",
                    flush=True,
                )
                for workers in worker_counts:
                    with c.running(
                        c.bare_server(workers=workers, logs=tmp, catalog_body=body_file)
                    ) as bare:
                        bare_body = fetch(bare.port or 0, PAGE, "none")
                        info["bare_page_bytes"] = len(bare_body)
                        record(f"bare/{workers}w", load(bare.port or 0, "none"))
                    for kind in databases:
                        if kind == "sqlite" and workers > 1:
                            continue
                        with c.running(
                            c.steller_server(urls[kind], workers=workers, logs=tmp)
                        ) as proc:
                            record(f"{kind}/{workers}w", load(proc.port or 0, keys[kind]))

    summary = {name: c.median_result(results) for name, results in measured.items()}
    rows = []
    for name, s in summary.items():
        kind, processes = name.split("/")
        ratio = None
        if kind != "bare" and f"bare/{processes}" in summary:
            ratio = s["rps"] / summary[f"bare/{processes}"]["rps"]
        s["ratio_to_bare"] = None if ratio is None else round(ratio, 4)
        rows.append(
            [
                f"{name} GET {PAGE if kind != 'bare' else '(same body)'}",
                c.fmt(s["rps"]),
                c.fmt(s["p50_ms"], 2),
                c.fmt(s["p99_ms"], 2),
                s["errors"],
                "-" if ratio is None else f"{ratio:.1%}",
            ]
        )
    print()
    print(c.table(["config", "req/s", "p50 ms", "p99 ms", "errors", "vs bare"], rows))
    document = {
        "benchmark": "catalog",
        "command": " ".join(sys.argv),
        "machine": note,
        "load_after": c.machine_note()["loadavg_1_5_15"],
        "clients": CLIENTS,
        "duration_s": args.duration,
        "repeat": repeat,
        "elapsed_s": round(time.time() - started, 1),
        "results": summary,
        "target_ge_50pct": {
            n: s["ratio_to_bare"] >= 0.5
            for n, s in summary.items()
            if s.get("ratio_to_bare") is not None
        },
        **info,
    }
    c.write_json(args.json, document)
    print(
        f"\npage {info.get('page_bytes')} bytes; load average before {note['loadavg_1_5_15']}, "
        f"after {document['load_after']}; {document['elapsed_s']} s"
    )
    bad = [n for n, s in summary.items() if s["errors"]]
    if bad:
        print(f"errors in: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad and args.smoke else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, c.StopBench):
        print("interrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
