"""examples/*.py run as scripts (``python examples/X.py``, configured by STELLER_* variables)
against the docs sandbox on loopback, whose in-process worker fulfils orders through the
simulator. Each test checks what the script promises in its docstring."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import steller
from steller_sandbox.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.slow  # each test spawns the example as a real process


def run_example(
    name: str, env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def partner_key(docs_server: Any) -> str:
    """A fresh sandbox partner (1000.00 trial credit, sandbox catalog) for one test."""
    account = steller.signup(
        name="Examples", email=f"ex+{uuid.uuid4().hex[:10]}@example.com", base_url=docs_server.url
    )
    return account.api_key.key


def test_every_example_is_tested() -> None:
    tested = set(re.findall(r'"(\w+\.py)"', Path(__file__).read_text(encoding="utf-8")))
    assert {p.name for p in EXAMPLES.glob("*.py")} <= tested


def test_first_order_signs_up_orders_and_prints_the_cards(docs_server: Any) -> None:
    env = docs_server.env()
    del env["STELLER_API_KEY"]  # no key: the script signs up a sandbox account itself
    out = ok(run_example("first_order.py", env))
    assert re.search(r"signed up sandbox partner ptn_\w+ \(wallet 1000\.00 USD\)", out), out
    assert re.search(r"order ord_\w+ \(first-order-\w+\): completed, charged 50\.00 USD", out)
    assert re.search(r"card [0-9a-f-]{36}: code [0-9a-f]{32} pin \d{3}", out), out
    assert "wallet was 1000.00 USD, bought 1 \u00d7 Amazon US 50 USD 50.00, charged 50.00" in out


def test_first_order_reports_a_failed_order(docs_server: Any, partner_key: str) -> None:
    result = run_example(
        "first_order.py", docs_server.env(STELLER_API_KEY=partner_key), "AMZ-US-VAR", "13.13"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(
        r"order ord_\w+ \(first-order-\w+\): failed, charged 13\.13 USD, "
        r"refunded 13\.13",
        result.stdout,
    ), result.stdout


class Lines:
    """The stdout of a running process, line by line, with a deadline per wait."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self.lines.put(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found


@pytest.fixture
def receiver(docs_server: Any, partner_key: str) -> Iterator[tuple[Lines, str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "webhook_receiver.py"), "--port", str(port), "--register"],
        env=docs_server.env(STELLER_API_KEY=partner_key),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = Lines(process)
        lines.wait_for(rf"registered http://127\.0\.0\.1:{port}/steller/webhooks")
        lines.wait_for(r"listening on ")
        yield lines, partner_key
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_webhook_receiver_verifies_real_deliveries_and_fetches_the_cards(
    docs_server: Any, receiver: tuple[Lines, str]
) -> None:
    lines, key = receiver
    with steller.Steller(api_key=key, base_url=docs_server.url) as client:
        order = client.orders.create(
            sku="AMZ-US-50", face_value="50.00", quantity=1, reference_id="webhook-example-1"
        )
        found = lines.wait_for(rf"handled order\.completed (evt_\w+) {order.id} 1 cards")
        event_id = found.group(1)
        # A redelivery carries the same webhook-id: verified, acknowledged, not handled twice.
        client.events.redeliver(event_id)
        client.webhook.test()
        lines.wait_for(r"handled webhook\.test evt_\w+")
        deadline = time.monotonic() + 30
        while len(client.events.get(event_id).attempts) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        attempts = client.events.get(event_id).attempts
        assert len(attempts) == 2
        assert all(a.status_code == 204 for a in attempts)
    assert sum(event_id in line for line in lines.seen) == 1


def test_async_bulk_orders_is_paced_and_safe_to_rerun(docs_server: Any, partner_key: str) -> None:
    env = docs_server.env(STELLER_API_KEY=partner_key)
    args = (
        "--batch",
        "promo-1",
        "--count",
        "6",
        "--sku",
        "AMZ-US-25",
        "--face-value",
        "25.00",
        "--concurrency",
        "3",
        "--rate",
        "8",
    )
    first = ok(run_example("async_bulk_orders.py", env, *args))
    assert first.count(" placed") == 6, first
    assert "already placed" not in first, first
    assert "6 orders {'completed': 6}, 0 refused" in first, first
    assert "spent in this run 150.00" in first, first

    again = ok(run_example("async_bulk_orders.py", env, *args))  # a rerun after a "crash"
    assert again.count("already placed") == 6, again
    assert "spent in this run 0.00" in again, again
    with steller.Steller(api_key=partner_key, base_url=docs_server.url) as client:
        assert client.wallet.get().balance == Decimal("850.00")
        assert len(list(client.orders.list())) == 6


def test_reconcile_wallet_matches_export_ledger_and_orders(
    docs_server: Any, partner_key: str
) -> None:
    with steller.Steller(api_key=partner_key, base_url=docs_server.url) as client:
        for face_value, quantity, reference in (
            ("25.00", 1, "ok"),
            ("13.13", 1, "fails"),
            ("22.22", 2, "partial"),
        ):
            client.orders.create_and_wait(
                sku="AMZ-US-VAR", face_value=face_value, quantity=quantity, reference_id=reference
            )
    out = ok(run_example("reconcile_wallet.py", docs_server.env(STELLER_API_KEY=partner_key)))
    assert "MISMATCH" not in out, out
    assert out.rstrip().endswith("reconciled"), out
    assert re.search(
        r"6 ledger entries, 6 CSV rows \(\d+ bytes\), 3 orders, balance "
        r"952\.78 USD",
        out,
    ), out  # 1000 - 25 - 0 - 22.22
    assert re.search(
        r"ok +order ord_\w+ \(partially_completed\): one debit of 44\.44, "
        r"refunds 22\.22",
        out,
    ), out


def test_admin_onboard_partner_creates_funds_approves_and_orders(docs_server: Any) -> None:
    email = f"sales+{uuid.uuid4().hex[:8]}@partner.example"
    args = (
        "--name",
        "Sales Led Ltd",
        "--email",
        email,
        "--fund",
        "200.00",
        "--payment-ref",
        "wire-42",
        "--approve",
        "AMZ-US-50=-5",
        "--approve",
        "AMZ-US-VAR=-2",
    )
    out = ok(run_example("admin_onboard_partner.py", docs_server.env(), *args, "--first-order"))
    assert re.search(r"created partner ptn_\w+ Sales Led Ltd", out), out
    assert "wallet credited 200.00: balance 200.00 USD" in out
    assert "approved AMZ-US-50 at -5.00 %: 52.50 to 52.50 USD" in out
    assert re.search(r"ordering key key_\w+: stlr_test_\w+", out), out
    assert re.search(r"first order ord_\w+: completed", out), out
    assert (
        "wallet was 200.00 USD, bought 1 \u00d7 Amazon US 50 USD 50.00, charged 52.50, "
        "balance 147.50" in out
    )

    # Re-running with the same payment reference does not credit twice.
    again = ok(run_example("admin_onboard_partner.py", docs_server.env(), *args))
    assert "already exists" in again
    assert "wallet credited 200.00: balance 200.00 USD" in again, again  # the stored response
