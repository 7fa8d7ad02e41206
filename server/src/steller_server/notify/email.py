"""SMTP sending (``STELLER_SMTP_*``) and the email job payload.

Emails are never sent from a request: callers :func:`enqueue` an ``email`` job in their
transaction; the job (``jobs/notify.py``) calls :func:`send`, and an SMTP failure makes the job
retry with backoff. Sandbox mode without SMTP captures the email in the ``outbox`` table instead
(``GET /sandbox/outbox``); live mode without SMTP drops it (logged).

TLS modes: ``starttls`` (default; port 587), ``ssl`` (implicit TLS; port 465), ``none`` (port 25;
only for a relay on a trusted network). Credentials are used only when ``STELLER_SMTP_USERNAME``
is set.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.dialect import insert_ignore
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import jobs
from steller_server.domain.clock import utcnow
from steller_server.notify.templates import Rendered
from steller_server.observability.logging import current_request_id
from steller_server.settings import Settings

__all__ = ["EMAIL_KIND", "MAX_ATTEMPTS", "build_message", "enqueue", "send"]

EMAIL_KIND = "email"
#: Retries with the queue's exponential backoff (5 s doubling, capped at 1 h): 13 waits, about
#: four and a half hours from the first attempt to the last.
MAX_ATTEMPTS = 14
SMTP_TIMEOUT = 30.0


def payload(
    *, kind: str, to: Sequence[str], rendered: Rendered, partner_id: str | None = None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "to": list(to),
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "partnerId": partner_id,
    }


async def enqueue(
    conn: AsyncConnection,
    *,
    kind: str,
    to: Sequence[str],
    rendered: Rendered,
    partner_id: str | None = None,
    dedupe_key: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue an ``email`` job in ``conn``'s transaction; False when ``dedupe_key`` was queued
    before (or there is nobody to send to)."""
    if not to:
        return False
    now = now or utcnow()
    body = payload(kind=kind, to=to, rendered=rendered, partner_id=partner_id)
    request_id = request_id or current_request_id()
    if dedupe_key is None:
        await jobs.enqueue(
            conn,
            kind=EMAIL_KIND,
            payload=body,
            request_id=request_id,
            max_attempts=MAX_ATTEMPTS,
            now=now,
        )
        return True
    result = await conn.execute(
        insert_ignore(conn, jobs_table, ["dedupe_key"]).values(
            kind=EMAIL_KIND,
            payload=body,
            status="pending",
            run_at=now,
            attempts=0,
            max_attempts=MAX_ATTEMPTS,
            dedupe_key=dedupe_key,
            request_id=request_id,
            created_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount and result.rowcount > 0)


def build_message(
    settings: Settings, *, to: Sequence[str], subject: str, text: str, html: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="steller")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _send_sync(settings: Settings, message: EmailMessage) -> None:
    host, port = settings.smtp_host or "", settings.effective_smtp_port
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    try:
        client.ehlo()
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password or "")
        client.send_message(message)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


async def send(settings: Settings, message: EmailMessage) -> None:
    """Deliver ``message`` to the configured SMTP server (blocking I/O runs in a thread).
    Raises :class:`smtplib.SMTPException` or :class:`OSError`."""
    await asyncio.to_thread(_send_sync, settings, message)
