"""`steller-server`: migrate a fresh SQLite file, refuse unsafe configurations with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from steller_server import cli
from steller_server.db.migrate import head_revision


def test_migrate_creates_every_table_in_a_fresh_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fresh.sqlite3"
    monkeypatch.setenv("STELLER_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("STELLER_MODE", raising=False)

    assert cli.main(["migrate"]) == 0
    assert cli.main(["migrate"]) == 0  # idempotent

    assert f"database at revision {head_revision()}" in capsys.readouterr().out
    engine = create_engine(f"sqlite:///{path}")
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"orders", "jobs", "ledger_entries", "catalog_sync_runs", "alerts"} <= tables


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["migrate"], ["sandbox"]])
def test_live_mode_without_a_secret_refuses_to_start(
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("STELLER_MODE", "live")
    monkeypatch.delenv("STELLER_SECRET_KEY", raising=False)
    monkeypatch.setenv("STELLER_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")

    assert cli.main(command) == 2

    err = capsys.readouterr().err
    expected = (
        "sandbox mode cannot run with STELLER_MODE=live"
        if command == ["sandbox"]
        else "refusing to start in live mode without STELLER_SECRET_KEY"
    )
    assert err.strip() == f"error: {expected}"
    assert not (tmp_path / "x.sqlite3").exists()


def test_worker_processes_need_postgresql_and_a_vendor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("STELLER_MODE", raising=False)
    monkeypatch.setenv("STELLER_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert cli.main(["worker"]) == 2
    assert "separate worker processes need PostgreSQL" in capsys.readouterr().err

    monkeypatch.setenv("STELLER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    for name in (
        "STELLER_BAMBOO_BASE_URL",
        "STELLER_BAMBOO_CLIENT_ID",
        "STELLER_BAMBOO_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["worker"]) == 2
    assert "the vendor is not configured: set STELLER_BAMBOO_BASE_URL" in capsys.readouterr().err


def test_serve_refuses_several_processes_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("STELLER_MODE", raising=False)
    monkeypatch.setenv("STELLER_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert cli.main(["serve", "--workers", "4"]) == 2
    assert "use PostgreSQL for --workers > 1" in capsys.readouterr().err


@pytest.mark.slow
def test_the_console_script_exits_2_with_the_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLER_")}
    env.update({"STELLER_MODE": "live", "STELLER_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    script = Path(sys.executable).with_name("steller-server")
    done = subprocess.run(
        [str(script), "serve"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert "error: refusing to start in live mode without STELLER_SECRET_KEY" in done.stderr


def test_rebuild_usage_makes_the_rollup_equal_to_the_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rollup row no order backs (drift from processes older than 0004) is gone afterwards."""
    path = tmp_path / "drifted.sqlite3"
    monkeypatch.setenv("STELLER_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("STELLER_MODE", raising=False)
    assert cli.main(["migrate"]) == 0
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO order_usage_daily (partner_id, day, sku, status, order_count, "
                "total_minor, refunded_minor) VALUES ('ptn_x', '2026-11-01', 'SKU', 'completed', "
                "3, 1500, 0)"
            )
        assert cli.main(["rebuild-usage"]) == 0
        with engine.connect() as conn:
            left = conn.exec_driver_sql("SELECT count(*) FROM order_usage_daily").scalar_one()
    finally:
        engine.dispose()
    assert left == 0
    assert "usage rollup rebuilt" in capsys.readouterr().out
