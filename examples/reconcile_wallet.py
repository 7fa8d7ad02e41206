"""Reconcile your wallet: the CSV export against the ledger API, the balance and your orders.

    STELLER_API_KEY=stlr_test_… python examples/reconcile_wallet.py [--csv ledger.csv] \\
        [--from 2026-11-01T00:00:00Z]

A ``finance`` key is enough (read-only). Checks, each printed as ``ok`` or ``MISMATCH``:

1. the CSV export (``GET /api/wallet/transactions/export``, streamed to disk) and the paginated
   ledger (``GET /api/wallet/transactions``) hold the same entries, amount for amount;
2. the ledger chains: each entry's ``balanceBefore + amount == balanceAfter``, and each entry
   starts where the previous one ended;
3. the wallet balance equals the last ``balanceAfter`` and, for the whole history, the sum of the
   ledger;
4. every order is backed by exactly one debit of ``-total``, and its refunds add up to its
   ``refundedAmount``.

Amounts are compared as ``Decimal``, never floats. Configuration: ``STELLER_API_KEY`` and
``STELLER_BASE_URL`` (default ``http://127.0.0.1:8000``). Exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import steller

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, help="where to keep the export (default: a temp file)")
    parser.add_argument("--from", dest="from_", help="start of the period (RFC 3339)")
    args = parser.parse_args(argv)
    base_url = os.environ.get("STELLER_BASE_URL", DEFAULT_BASE_URL)
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        print(f"{'ok      ' if ok else 'MISMATCH'} {what}")
        if not ok:
            problems.append(what)

    period = {"from_": args.from_} if args.from_ else {}
    with steller.Steller(base_url=base_url) as client, tempfile.TemporaryDirectory() as tmp:
        path = args.csv or Path(tmp) / "ledger.csv"
        size = client.wallet.export_csv(path, **period)
        with path.open(newline="", encoding="utf-8") as handle:
            exported = {row["id"]: row for row in csv.DictReader(handle)}
        ledger = list(client.wallet.transactions(limit=200, **period))  # newest first
        wallet = client.wallet.get()
        orders = list(client.orders.list(limit=200, **period))
    print(
        f"{len(ledger)} ledger entries, {len(exported)} CSV rows ({size} bytes), "
        f"{len(orders)} orders, balance {wallet.balance} {wallet.currency}"
    )

    # 1. The export and the API agree.
    check(set(exported) == {e.id for e in ledger}, "the CSV export lists the ledger's entries")
    for entry in ledger:
        row = exported.get(entry.id)
        if row is not None:
            check(
                Decimal(row["amount"]) == entry.amount
                and Decimal(row["balanceAfter"]) == entry.balance_after
                and row["type"] == entry.type
                and (row["orderId"] or None) == entry.order_id,
                f"{entry.id}: CSV row equals the ledger entry",
            )

    # 2. The chain holds.
    oldest_first = list(reversed(ledger))
    check(
        all(e.balance_before + e.amount == e.balance_after for e in oldest_first),
        "every entry: balanceBefore + amount == balanceAfter",
    )
    check(
        all(a.balance_after == b.balance_before for a, b in itertools.pairwise(oldest_first)),
        "every entry starts where the previous one ended",
    )

    # 3. The balance.
    if oldest_first:
        check(
            oldest_first[-1].balance_after == wallet.balance,
            "the balance equals the last entry's balanceAfter",
        )
    if not args.from_:
        check(
            sum((e.amount for e in ledger), Decimal(0)) == wallet.balance,
            "the balance equals the sum of the ledger",
        )

    # 4. Orders against their ledger entries.
    debits: dict[str, list[Decimal]] = defaultdict(list)
    refunds: dict[str, Decimal] = defaultdict(Decimal)
    for entry in ledger:
        if entry.order_id and entry.type == "debit":
            debits[entry.order_id].append(entry.amount)
        elif entry.order_id and entry.type == "refund":
            refunds[entry.order_id] += entry.amount
    for order in orders:
        check(
            debits.get(order.id) == [-order.total]
            and refunds.get(order.id, Decimal(0)) == order.refunded_amount,
            f"order {order.id} ({order.status}): one debit of {order.total}, "
            f"refunds {order.refunded_amount}",
        )

    print("reconciled" if not problems else f"{len(problems)} mismatches")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
