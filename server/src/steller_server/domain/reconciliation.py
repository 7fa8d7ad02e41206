"""Reconciliation: runs (``reconciliation_runs``) and the checks that need only our database.

* :func:`wallet_drift` — every wallet's stored balance against the sum of its ledger.
* :func:`stuck_orders` — orders ``processing`` for longer than ``stuck_after``.
* :func:`vendor_candidates` + :func:`compare_with_vendor` — our orders that reached Bamboo against
  Bamboo's orders report (missing there, or a different final status).

The vendor calls are made by ``jobs/reconciliation.py``, which also turns findings into alerts.
A finding is ``{"kind", "severity", "message", "walletId", "orderId"}`` (the contract's
``ReconciliationFinding``) plus an internal ``key`` (the alert's dedupe key) and ``details``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.tables import ledger_entries, orders, reconciliation_runs, wallets
from steller_server.domain import money
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState, NotFound
from steller_server.domain.ids import new_id

__all__ = [
    "STALE_AFTER",
    "STUCK_AFTER",
    "VENDOR_STATUS_FOR",
    "Finding",
    "ReconciliationRun",
    "compare_with_vendor",
    "finish_run",
    "get_run",
    "start_run",
    "stuck_orders",
    "vendor_candidates",
    "wallet_drift",
]

STUCK_AFTER = timedelta(minutes=30)
STALE_AFTER = timedelta(hours=1)
#: Our terminal status → the final status Bamboo must report for the same order.
VENDOR_STATUS_FOR = {
    "completed": "Succeeded",
    "partially_completed": "PartialFailed",
    "failed": "Failed",
}
NOT_AT_VENDOR = "Rejected"  # vendor_status of orders Bamboo refused at checkout


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class Finding:
    kind: str
    severity: str
    message: str
    key: str
    wallet_id: str | None = None
    order_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "walletId": self.wallet_id,
            "orderId": self.order_id,
        }


@dataclass(frozen=True, kw_only=True)
class ReconciliationRun:
    id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    wallets_checked: int
    orders_checked: int
    findings: list[dict[str, Any]]
    error: str | None

    @classmethod
    def from_row(cls, row: Any) -> ReconciliationRun:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """The ``ReconciliationRun`` schema."""
        return {
            "id": self.id,
            "status": self.status,
            "startedAt": _ts(self.started_at),
            "finishedAt": _ts(self.finished_at),
            "walletsChecked": self.wallets_checked,
            "ordersChecked": self.orders_checked,
            "findings": list(self.findings),
        }


# -- runs ---------------------------------------------------------------------------------------


async def get_run(conn: AsyncConnection, *, run_id: str) -> ReconciliationRun:
    row = (
        (await conn.execute(select(reconciliation_runs).where(reconciliation_runs.c.id == run_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound("reconciliation run not found")
    return ReconciliationRun.from_row(row)


async def start_run(conn: AsyncConnection, *, now: datetime | None = None) -> ReconciliationRun:
    """A new ``running`` run; :class:`InvalidState` while another (not stale) one runs."""
    now = now or utcnow()
    await conn.execute(
        update(reconciliation_runs)
        .where(
            reconciliation_runs.c.status == "running",
            reconciliation_runs.c.started_at < now - STALE_AFTER,
        )
        .values(status="failed", finished_at=now, error="abandoned (no progress)")
    )
    running = await conn.scalar(
        select(reconciliation_runs.c.id).where(reconciliation_runs.c.status == "running").limit(1)
    )
    if running is not None:
        raise InvalidState(f"reconciliation {running} is still running")
    row = {
        "id": new_id("rec"),
        "status": "running",
        "started_at": now,
        "finished_at": None,
        "wallets_checked": 0,
        "orders_checked": 0,
        "findings": [],
        "error": None,
    }
    await conn.execute(insert(reconciliation_runs).values(**row))
    return ReconciliationRun.from_row(row)


async def finish_run(
    conn: AsyncConnection,
    *,
    run_id: str,
    wallets_checked: int,
    orders_checked: int,
    findings: Iterable[Finding],
    error: str | None = None,
    now: datetime | None = None,
) -> ReconciliationRun:
    now = now or utcnow()
    await conn.execute(
        update(reconciliation_runs)
        .where(reconciliation_runs.c.id == run_id)
        .values(
            status="failed" if error else "succeeded",
            finished_at=now,
            wallets_checked=wallets_checked,
            orders_checked=orders_checked,
            findings=[f.public() for f in findings],
            error=error[:2000] if error else None,
        )
    )
    return await get_run(conn, run_id=run_id)


# -- checks -------------------------------------------------------------------------------------


async def wallet_drift(conn: AsyncConnection) -> tuple[int, list[Finding]]:
    """(wallets checked, a critical finding per wallet whose balance != its ledger sum)."""
    sums = (
        select(ledger_entries.c.wallet_id, func.sum(ledger_entries.c.amount_minor).label("total"))
        .group_by(ledger_entries.c.wallet_id)
        .subquery()
    )
    rows = (
        await conn.execute(
            select(
                wallets.c.id,
                wallets.c.partner_id,
                wallets.c.currency,
                wallets.c.balance_minor,
                func.coalesce(sums.c.total, 0).label("ledger"),
            )
            .select_from(wallets.outerjoin(sums, sums.c.wallet_id == wallets.c.id))
            .order_by(wallets.c.id)
        )
    ).all()
    findings = []
    for row in rows:
        ledger_total = int(row.ledger)
        if int(row.balance_minor) == ledger_total:
            continue
        balance = money.format_amount(int(row.balance_minor), row.currency)
        total = money.format_amount(ledger_total, row.currency)
        findings.append(
            Finding(
                kind="wallet_drift",
                severity="critical",
                key=f"wallet_drift:{row.id}",
                wallet_id=row.id,
                message=f"Wallet {row.id} balance {balance} {row.currency} != ledger sum "
                f"{total} {row.currency}",
                details={
                    "walletId": row.id,
                    "partnerId": row.partner_id,
                    "currency": row.currency,
                    "balance": balance,
                    "ledgerSum": total,
                },
            )
        )
    return len(rows), findings


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


async def stuck_orders(
    conn: AsyncConnection, *, now: datetime, stuck_after: timedelta = STUCK_AFTER
) -> list[Finding]:
    rows = (
        await conn.execute(
            select(orders.c.id, orders.c.partner_id, orders.c.created_at, orders.c.vendor_status)
            .where(orders.c.status == "processing", orders.c.created_at < now - stuck_after)
            .order_by(orders.c.created_at)
        )
    ).all()
    return [
        Finding(
            kind="stuck_order",
            severity="warning",
            key=f"stuck_order:{row.id}",
            order_id=row.id,
            message=f"Order {row.id} has been processing for {_duration(now - row.created_at)}",
            details={
                "orderId": row.id,
                "partnerId": row.partner_id,
                "processingMinutes": int((now - row.created_at).total_seconds() // 60),
                "vendorStatus": row.vendor_status,
            },
        )
        for row in rows
    ]


@dataclass(frozen=True, kw_only=True)
class VendorCandidate:
    order_id: str
    vendor_request_id: str
    status: str
    vendor_status: str | None
    submitted_at: datetime


async def vendor_candidates(
    conn: AsyncConnection, *, since: datetime, until: datetime
) -> list[VendorCandidate]:
    """Our orders that Bamboo accepted (we recorded a vendor status) submitted in the window."""
    rows = (
        await conn.execute(
            select(
                orders.c.id,
                orders.c.vendor_request_id,
                orders.c.status,
                orders.c.vendor_status,
                orders.c.vendor_submitted_at,
            )
            .where(
                orders.c.vendor_submitted_at >= since,
                orders.c.vendor_submitted_at <= until,
                orders.c.vendor_status.is_not(None),
                orders.c.vendor_status != NOT_AT_VENDOR,
            )
            .order_by(orders.c.vendor_submitted_at)
        )
    ).all()
    return [
        VendorCandidate(
            order_id=r.id,
            vendor_request_id=r.vendor_request_id.lower(),
            status=r.status,
            vendor_status=r.vendor_status,
            submitted_at=r.vendor_submitted_at,
        )
        for r in rows
    ]


def compare_with_vendor(
    candidates: Iterable[VendorCandidate], report: Mapping[str, str]
) -> list[Finding]:
    """``report`` maps lower-case RequestId → Bamboo's status for that order."""
    findings = []
    for order in candidates:
        theirs = report.get(order.vendor_request_id)
        if theirs is None:
            findings.append(
                Finding(
                    kind="vendor_order_missing",
                    severity="critical",
                    key=f"vendor_order_missing:{order.order_id}",
                    order_id=order.order_id,
                    message=f"Order {order.order_id} ({order.status}) is not in the vendor's orders "  # noqa: E501
                    f"report (RequestId {order.vendor_request_id})",
                    details={
                        "orderId": order.order_id,
                        "requestId": order.vendor_request_id,
                        "status": order.status,
                    },
                )
            )
            continue
        expected = VENDOR_STATUS_FOR.get(order.status)
        if expected is not None and theirs != expected:
            findings.append(
                Finding(
                    kind="vendor_status_mismatch",
                    severity="critical",
                    key=f"vendor_status_mismatch:{order.order_id}",
                    order_id=order.order_id,
                    message=f"Order {order.order_id} is {order.status} but the vendor says {theirs}",  # noqa: E501
                    details={
                        "orderId": order.order_id,
                        "requestId": order.vendor_request_id,
                        "status": order.status,
                        "vendorStatus": theirs,
                    },
                )
            )
    return findings
