"""Reconciliation (job kind ``reconciliation``, every 15 minutes and on admin request).

One run checks, in order:

1. every wallet's balance against its ledger sum (``wallet_drift``, critical);
2. orders processing longer than ``STUCK_AFTER`` (``stuck_order``): each one's fulfilment job is
   made due now (revived if it died), so the vendor's answer resolves it;
3. our orders that reached Bamboo in the last ``VENDOR_WINDOW`` against Bamboo's orders report
   (``vendor_order_missing``, ``vendor_status_mismatch``), skipping the last ``VENDOR_GRACE``;
4. the vendor account balance (the configured AccountId, else every active account) against
   ``VENDOR_BALANCE_THRESHOLD`` in the account's currency (``vendor_balance_low``).

Findings are stored on the run and become alerts (de-duplicated per kind and subject); alerts of a
kind whose check completed and that are no longer found are resolved. A vendor outage fails the
run (``error``) after the database checks still ran, and resolves no vendor alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from steller_server.db.engine import Database
from steller_server.domain import alerts, fulfilment, money
from steller_server.domain import reconciliation as rec
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState
from steller_server.domain.models import Job
from steller_server.jobs.base import Done, JobContext, Later, Outcome
from steller_server.settings import Settings
from steller_server.vendor import BambooClient, VendorError

__all__ = ["VENDOR_BALANCE_THRESHOLD", "reconcile", "run", "start_and_reconcile"]

log = logging.getLogger("steller.reconciliation")

VENDOR_BALANCE_THRESHOLD = Decimal("1000")
VENDOR_WINDOW = timedelta(days=2)
VENDOR_GRACE = timedelta(minutes=5)


async def reconcile(
    db: Database,
    vendor: BambooClient | None,
    *,
    run_id: str,
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
    stuck_after: timedelta = rec.STUCK_AFTER,
    vendor_grace: timedelta = VENDOR_GRACE,
    balance_threshold: Decimal = VENDOR_BALANCE_THRESHOLD,
) -> rec.ReconciliationRun:
    now = clock()
    findings: list[rec.Finding] = []
    covered: set[str] = set()
    errors: list[str] = []
    async with db.read() as conn:
        wallets_checked, drift = await rec.wallet_drift(conn)
        stuck = await rec.stuck_orders(conn, now=now, stuck_after=stuck_after)
        candidates = await rec.vendor_candidates(
            conn, since=now - VENDOR_WINDOW, until=now - vendor_grace
        )
    findings += drift + stuck
    covered |= {"wallet_drift", "stuck_order"}
    if stuck:
        async with db.write() as conn:
            for finding in stuck:
                if finding.order_id is not None:
                    await fulfilment.make_due(conn, order_id=finding.order_id, now=now)

    if vendor is None:
        errors.append("no vendor client configured: vendor checks skipped")
    else:
        try:
            if candidates:
                first = min(c.submitted_at for c in candidates).date()
                rows = await vendor.get_orders_report(first, now.date())
                report = {row.request_id.strip().lower(): row.status for row in rows}
                findings += rec.compare_with_vendor(candidates, report)
            covered |= {"vendor_order_missing", "vendor_status_mismatch"}
        except VendorError as exc:
            errors.append(f"vendor orders report: {exc}")
        try:
            accounts = await vendor.get_accounts()
            watched = [
                a
                for a in accounts
                if a.is_active
                and (settings.bamboo_account_id is None or a.id == settings.bamboo_account_id)
            ]
            for account in watched:
                if account.balance >= balance_threshold:
                    continue
                balance = money.format_decimal(account.balance, max_places=4, min_places=2)
                threshold = money.format_decimal(balance_threshold, max_places=4, min_places=2)
                findings.append(
                    rec.Finding(
                        kind="vendor_balance_low",
                        severity="critical",
                        key=f"vendor_balance_low:{account.id}",
                        message=f"Vendor account {account.id} ({account.currency}) balance {balance} "  # noqa: E501
                        f"is below {threshold}",
                        details={
                            "vendorAccountId": account.id,
                            "currency": account.currency,
                            "balance": balance,
                            "threshold": threshold,
                        },
                    )
                )
            covered.add("vendor_balance_low")
        except VendorError as exc:
            errors.append(f"vendor accounts: {exc}")

    async with db.write() as conn:
        for finding in findings:
            await alerts.raise_alert(
                conn,
                kind=finding.kind,
                severity=finding.severity,
                dedupe_key=finding.key,
                message=finding.message,
                details={**finding.details, "reconciliationRunId": run_id},
                now=now,
            )
        await alerts.resolve_absent(conn, kinds=covered, seen={f.key for f in findings}, now=now)
        done = await rec.finish_run(
            conn,
            run_id=run_id,
            wallets_checked=wallets_checked,
            orders_checked=len(candidates),
            findings=findings,
            error="; ".join(errors) or None,
            now=clock(),
        )
    log.info(
        "reconciliation %s: %d wallets, %d vendor orders, %d findings%s",
        run_id,
        wallets_checked,
        len(candidates),
        len(findings),
        f" (errors: {'; '.join(errors)})" if errors else "",
    )
    return done


async def start_and_reconcile(
    db: Database,
    vendor: BambooClient | None,
    *,
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
    **options: object,
) -> rec.ReconciliationRun:
    async with db.write() as conn:
        started = await rec.start_run(conn, now=clock())
    return await reconcile(db, vendor, run_id=started.id, settings=settings, clock=clock, **options)  # type: ignore[arg-type]


async def run(job: Job, ctx: JobContext) -> Outcome:
    run_id = job.payload.get("runId")
    if not run_id:
        try:
            async with ctx.db.write() as conn:
                started = await rec.start_run(conn, now=ctx.clock())
        except InvalidState as exc:
            log.info("scheduled reconciliation skipped: %s", exc)
            return Done()
        return Later(ctx.clock(), {**job.payload, "runId": started.id})
    async with ctx.db.read() as conn:
        current = await rec.get_run(conn, run_id=str(run_id))
    if current.status != "running":
        return Done()
    await reconcile(ctx.db, ctx.vendor, run_id=current.id, settings=ctx.settings, clock=ctx.clock)
    return Done()
