"""Notification jobs: ``email``, ``alert_notify`` and the periodic ``ops_check``.

* ``email`` (payload ``{"kind", "to", "subject", "text", "html", "partnerId"?}``): send through
  SMTP; an SMTP failure (server down, timeout, 4xx) is a ``Retry`` — the job comes back with the
  queue's backoff, so the email is late, never lost. Recipients refused outright fail the job
  for good. Sandbox mode without SMTP captures the email in the outbox; live mode without SMTP
  logs and drops it.
* ``alert_notify`` (``{"alertId", "reason"}``): :func:`steller_server.notify.alerts.fan_out`.
* ``ops_check`` (every minute, from the scheduler): raises and resolves the operational alerts —
  ``job_backlog`` (a due job has waited longer than ``STELLER_ALERT_JOB_AGE_MINUTES``),
  ``webhook_endpoint_disabled`` (and the partner's email about it, once per disablement),
  ``vendor_error_rate`` (share of failed Bamboo calls over the last five minutes in this worker
  process, from at least ``MIN_VENDOR_CALLS`` calls) — and queues reminders of open alerts.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from steller_server.db.tables import jobs as jobs_table
from steller_server.db.tables import webhook_endpoints
from steller_server.domain import alerts
from steller_server.domain.models import Job
from steller_server.jobs.base import Done, JobContext, Outcome, Retry
from steller_server.notify import alerts as alert_channels
from steller_server.notify import email, outbox, partner
from steller_server.observability import metrics

__all__ = ["MIN_VENDOR_CALLS", "OPS_KINDS", "run_alert_notify", "run_email", "run_ops_check"]

log = logging.getLogger("steller.notify")

MIN_VENDOR_CALLS = 20
OPS_KINDS = ("job_backlog", "webhook_endpoint_disabled", "vendor_error_rate")


async def run_email(job: Job, ctx: JobContext) -> Outcome:
    payload = job.payload
    settings = ctx.settings
    fields = {"email_kind": payload.get("kind"), "recipients": len(payload.get("to") or [])}
    if settings.smtp_configured:
        message = email.build_message(
            settings,
            to=payload["to"],
            subject=payload["subject"],
            text=payload["text"],
            html=payload["html"],
        )
        try:
            await email.send(settings, message)
        except smtplib.SMTPRecipientsRefused as exc:
            log.error(
                "email refused by the SMTP server for every recipient", extra={"steller": fields}
            )
            return Retry(f"SMTP refused every recipient: {sorted(exc.recipients)}", retry=False)
        except (smtplib.SMTPException, OSError) as exc:
            log.warning(
                "email not sent (attempt %d): %s: %s",
                job.attempts,
                type(exc).__name__,
                exc,
                extra={"steller": fields},
            )
            return Retry(f"SMTP: {type(exc).__name__}: {exc}")
        log.info("email sent", extra={"steller": fields})
        return Done()
    if settings.is_sandbox:
        async with ctx.db.write() as conn:
            await outbox.capture(
                conn, payload=payload, job_id=job.id, request_id=job.request_id, now=ctx.clock()
            )
        log.info("email captured in the sandbox outbox", extra={"steller": fields})
        return Done()
    log.warning(
        "email dropped: SMTP is not configured (STELLER_SMTP_HOST)", extra={"steller": fields}
    )
    return Done()


async def run_alert_notify(job: Job, ctx: JobContext) -> Outcome:
    alert_id, reason = alert_channels.describe(job.payload)
    http = ctx.extras.get(alert_channels.HTTP_EXTRA)
    error = await alert_channels.fan_out(
        ctx.db,
        ctx.settings,
        alert_id=alert_id,
        reason=reason,
        notification_id=f"ntf_{alert_id}_{job.id}",
        now=ctx.clock(),
        http=http,
    )
    if error is not None:
        log.warning("alert %s: admin webhook failed: %s", alert_id, error)
        return Retry(f"admin webhook: {error}")
    return Done()


async def run_ops_check(job: Job, ctx: JobContext) -> Outcome:  # noqa: ARG001
    settings = ctx.settings
    now = ctx.clock()
    max_age = timedelta(minutes=settings.alert_job_age_minutes)
    findings: list[tuple[str, str, str, str, dict[str, object]]] = []
    covered = {"job_backlog", "webhook_endpoint_disabled"}
    async with ctx.db.read() as conn:
        backlog = (
            await conn.execute(
                select(jobs_table.c.kind, func.min(jobs_table.c.run_at), func.count())
                .where(jobs_table.c.status == "pending", jobs_table.c.run_at <= now - max_age)
                .group_by(jobs_table.c.kind)
            )
        ).all()
        disabled = (
            await conn.execute(
                select(
                    webhook_endpoints.c.id,
                    webhook_endpoints.c.partner_id,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.disabled_reason,
                    webhook_endpoints.c.updated_at,
                ).where(webhook_endpoints.c.status == "disabled")
            )
        ).all()
    for kind, oldest, count in backlog:
        minutes = int((now - oldest).total_seconds() // 60)
        findings.append(
            (
                "job_backlog",
                "critical",
                f"job_backlog:{kind}",
                f"{count} due '{kind}' job(s) waiting; the oldest for {minutes} min",
                {"jobKind": kind, "waiting": int(count), "oldestMinutes": minutes},
            )
        )
    for endpoint in disabled:
        findings.append(
            (
                "webhook_endpoint_disabled",
                "warning",
                f"webhook_endpoint_disabled:{endpoint.id}",
                f"Webhook endpoint of partner {endpoint.partner_id} is disabled: "
                f"{endpoint.disabled_reason or 'no reason recorded'}",
                {"partnerId": endpoint.partner_id, "endpointId": endpoint.id},
            )
        )
    calls, failed = metrics.vendor_error_rate()
    if calls >= MIN_VENDOR_CALLS:
        covered.add("vendor_error_rate")
        rate = Decimal(failed) / Decimal(calls)
        if rate >= settings.alert_vendor_error_rate:
            percent = (rate * 100).quantize(Decimal("1"))
            findings.append(
                (
                    "vendor_error_rate",
                    "critical",
                    "vendor_error_rate:bamboo",
                    f"{percent}% of Bamboo calls failed in the last 5 minutes "
                    f"({failed} of {calls})",
                    {"calls": calls, "failed": failed},
                )
            )
    async with ctx.db.write() as conn:
        for kind, severity, key, message, details in findings:
            await alerts.raise_alert(
                conn,
                kind=kind,
                severity=severity,
                dedupe_key=key,
                message=message,
                details=details,
                now=now,
            )
        await alerts.resolve_absent(conn, kinds=covered, seen={f[2] for f in findings}, now=now)
        for endpoint in disabled:
            await partner.webhook_disabled(
                conn,
                partner_id=endpoint.partner_id,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                reason=endpoint.disabled_reason,
                disabled_at=endpoint.updated_at,
                now=now,
            )
        await alert_channels.schedule_repeats(
            conn, every=timedelta(hours=settings.alert_repeat_hours), now=now
        )
    return Done()
