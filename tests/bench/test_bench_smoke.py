"""The HTTP benchmarks keep working: their parsers on known output, and each script end to end in a
tiny configuration (``--smoke --duration 1``). No timing is asserted: only that every script runs,
talks to the real server processes, gets the answers it expects and stops what it started."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
POSTGRES_URL = os.environ.get("STELLER_TEST_POSTGRES_URL")


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"steller_bench_{name}", BENCH / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


common = _load("_common")
orders = _load("orders")

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:5000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.01ms    3.20ms  40.11ms   80.00%
    Req/Sec     1.30k   100.00     1.50k    70.00%
  Latency Distribution
     50%   11.50ms
     75%   13.00ms
     90%  850.00us
     99%    1.20s
  2600 requests in 1.00s, 500.00KB read
  Non-2xx or 3xx responses: 3
Requests/sec:   2598.40
Transfer/sec:    499.00KB
status 202: 2597
status 429: 3
"""


def test_wrk_output_is_parsed_with_units_and_errors() -> None:
    result = common.parse_wrk(WRK_OUTPUT)
    assert result.requests == 2600
    assert result.rps == pytest.approx(2598.40)
    assert result.p50_ms == pytest.approx(11.5)
    assert result.p90_ms == pytest.approx(0.85)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.errors == 3
    assert result.extra["statuses"] == {"202": 2597, "429": 3}


def test_unparseable_wrk_output_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        common.parse_wrk("connection refused")


def test_pgbench_script_makes_per_order_values_unique_and_hides_colons() -> None:
    first = [
        ("SELECT 1", None),
        ("BEGIN", None),
        (
            "INSERT INTO orders (id, reference_id, note) VALUES (%(id)s::VARCHAR, %(ref)s, %(n)s)",
            {
                "id": "ord_AAAAAAAAAAAAAAAAAAAA",
                "ref": "capture-0123456789abcdef",
                "n": "partner:ptn_BBBBBBBBBBBBBBBBBBBB 50%",
            },
        ),
        (
            "UPDATE wallets SET version=(wallets.version + %(v)s) WHERE wallets.id = %(w)s "
            "RETURNING wallets.balance_minor, wallets.version",
            {"v": 1, "w": "wal_x"},
        ),
        (
            "INSERT INTO ledger_entries (wallet_seq, balance_after_minor, balance_before_minor, "
            "amount_minor) VALUES (%(wallet_seq)s, %(balance_after_minor)s, "
            "%(balance_before_minor)s, %(amount_minor)s)",
            {
                "wallet_seq": 7,
                "balance_after_minor": 100,
                "balance_before_minor": 625,
                "amount_minor": -525,
            },
        ),
        ("COMMIT", None),
    ]
    second: list[Any] = [
        (
            sql,
            params
            and {
                k: (v.replace("AAAA", "CCCC").replace("0123", "9999") if isinstance(v, str) else v)
                for k, v in params.items()
            },
        )
        for sql, params in first
    ]
    tokens = orders._tokens(first, second, "deadbeef")
    assert set(tokens) == {"ord_AAAAAAAAAAAAAAAAAAAA", "capture-0123456789abcdef"}
    script = orders.pgbench_script(first, tokens)
    lines = script.splitlines()
    assert lines[:4] == [
        "\\set n :n + 1",
        "\\set u :client_id * 1000000000 + :n",
        "SELECT 1;",
        "BEGIN;",
    ]
    insert = lines[4]
    assert "ord_AAAA" not in insert
    assert ":u::text" in insert
    assert "ptn_BBBBBBBBBBBBBBBBBBBB" in insert  # the same in both captures: kept
    assert "partner' || chr(58)" in insert
    assert "50%" in insert
    assert lines[5].endswith("\\gset w_")
    assert "(:w_version::bigint)" in lines[6]
    assert "(:w_balance_minor::bigint - (-525))" in lines[6]
    assert lines[-1] == "COMMIT;"


def _needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def _run(script: str, *args: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{script}.json"
    env = dict(os.environ)
    if POSTGRES_URL:
        env["STELLER_BENCH_POSTGRES_URL"] = POSTGRES_URL
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / f"{script}.py"),
            "--smoke",
            "--duration",
            "1",
            "--json",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.mark.slow
def test_orders_smoke_sqlite(tmp_path: Path) -> None:
    _needs("wrk")
    doc = _run("orders", "--databases", "sqlite", "--workers", "1", tmp_path=tmp_path)
    results = doc["results"]
    assert set(results) == {"bare/1w", "sqlite/1w/hot", "sqlite/1w/spread"}
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in results.values())
    assert doc["orders_in_db"]["sqlite"] >= results["sqlite/1w/hot"]["requests"]
    assert doc["machine"]["loadavg_1_5_15"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="STELLER_TEST_POSTGRES_URL is not set")
def test_orders_smoke_postgres_with_pgbench_ceiling(tmp_path: Path) -> None:
    _needs("wrk", "pgbench")
    doc = _run("orders", "--databases", "postgres", "--workers", "2", tmp_path=tmp_path)
    results = doc["results"]
    assert {
        "bare/2w",
        "postgres/2w/hot",
        "postgres/2w/spread",
        "pgbench/hot",
        "pgbench/spread",
    } <= set(results)
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in results.values())
    assert results["postgres/2w/spread"]["ratio_to_pgbench"] > 0
    # CPU per order of each side, for "what limits it": the server's processes and PostgreSQL's
    # under the server; PostgreSQL and the pgbench client under the replay.
    assert set(results["postgres/2w/spread"]["cpu_ms_per_order"]) == {"server", "postgres"}
    assert results["postgres/2w/spread"]["cpu_ms_per_order"]["server"] > 0
    assert set(results["pgbench/spread"]["cpu_ms_per_order"]) == {"postgres", "client"}
    assert "INSERT INTO orders" in doc["pgbench_script_one_order"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="STELLER_TEST_POSTGRES_URL is not set")
def test_catalog_smoke(tmp_path: Path) -> None:
    _needs("wrk")
    doc = _run("catalog", "--workers", "1", tmp_path=tmp_path)
    assert set(doc["results"]) == {"bare/1w", "postgres/1w"}
    assert all(r["errors"] == 0 for r in doc["results"].values())
    assert doc["bare_page_bytes"] == doc["page_bytes"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="STELLER_TEST_POSTGRES_URL is not set")
def test_fulfilment_smoke(tmp_path: Path) -> None:
    doc = _run("fulfilment", "--workers", "1", tmp_path=tmp_path)
    latency = doc["latency"]
    assert latency["http_non_202"] == 0
    assert latency["final_status"] == {"completed": latency["orders"]}
    run = doc["throughput"]["1w"]["runs"][0]
    assert run["completed"] == run["orders"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="STELLER_TEST_POSTGRES_URL is not set")
def test_statements_smoke(tmp_path: Path) -> None:
    out = tmp_path / "statements.json"
    env = {**os.environ, "STELLER_BENCH_POSTGRES_URL": POSTGRES_URL or ""}
    done = subprocess.run(
        [sys.executable, str(BENCH / "statements.py"), "--smoke", "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert set(doc["cpu_us_per_read"]) == {"sqlalchemy", "driver", "checkout"}
    assert all(v > 0 for v in doc["cpu_us_per_read"].values())
