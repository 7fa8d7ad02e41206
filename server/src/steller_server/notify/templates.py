"""Email templates: each returns a :class:`Rendered` (subject, plain text, HTML).

Values are escaped for HTML; nothing secret is ever rendered (keys appear only as their public
``prefix…last4``, never whole; card codes never).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = [
    "Rendered",
    "alert",
    "key_changed",
    "low_balance",
    "order_failed",
    "webhook_disabled",
]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _render(
    subject: str, heading: str, paragraphs: Sequence[str], facts: Sequence[tuple[str, str]]
) -> Rendered:
    text_lines = [heading, "", *paragraphs]
    if facts:
        text_lines.append("")
        text_lines += [f"{label}: {value}" for label, value in facts]
    text_lines += ["", "-- ", "Steller (this is an automated message)"]
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{escape(label)}</th>'
        f"<td>{escape(value)}</td></tr>"
        for label, value in facts
    )
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    html = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<h2>{escape(heading)}</h2>{body}"
        + (f"<table>{rows}</table>" if rows else "")
        + '<p style="color:#666">Steller (this is an automated message)</p></body></html>'
    )
    return Rendered(subject=subject[:300], text="\n".join(text_lines) + "\n", html=html)


def low_balance(*, partner_name: str, data: Mapping[str, Any]) -> Rendered:
    """From the ``wallet.low_balance`` event data."""
    currency = str(data.get("currency", ""))
    balance = f"{data.get('balance')} {currency}"
    run_out = data.get("projectedRunOutDate")
    projection = (
        f"At your average daily spend of {data.get('averageDailySpend')} {currency}, "
        f"the balance runs out around {run_out}."
        if run_out
        else "There has been no spending in the last 30 days to project a run-out date."
    )
    return _render(
        f"Steller: wallet balance low ({balance})",
        "Your Steller wallet balance is low",
        [
            f"The wallet of {partner_name} dropped below its low-balance threshold of "
            f"{data.get('threshold')} {currency}. Orders are refused once the balance cannot cover "
            "them; top up to keep ordering.",
            projection,
        ],
        [
            ("Balance", balance),
            ("Threshold", f"{data.get('threshold')} {currency}"),
            ("Average daily spend", f"{data.get('averageDailySpend')} {currency}"),
            ("Projected run-out", str(run_out or "n/a")),
            ("Wallet", str(data.get("walletId"))),
        ],
    )


def order_failed(*, partner_name: str, order: Mapping[str, Any]) -> Rendered:
    """From the ``order.failed`` event data (the Order object)."""
    currency = str(order.get("currency", ""))
    refund = f"{order.get('refundedAmount')} {currency}"
    return _render(
        f"Steller: order {order.get('referenceId')} failed; {refund} refunded",
        "An order failed and was refunded",
        [
            f"Order {order.get('id')} ({order.get('referenceId')}) of {partner_name} could not be "
            f"fulfilled. {refund} was refunded to your wallet."
        ],
        [
            ("Order", str(order.get("id"))),
            ("Reference", str(order.get("referenceId"))),
            ("Product", f"{order.get('productName')} ({order.get('sku')})"),
            ("Quantity", str(order.get("quantity"))),
            ("Total", f"{order.get('total')} {currency}"),
            ("Refunded", refund),
            ("Reason", str(order.get("failureReason") or "not given")),
        ],
    )


def key_changed(
    *,
    partner_name: str,
    change: str,
    key_id: str,
    key_hint: str,
    details: Sequence[tuple[str, str]] = (),
) -> Rendered:
    """``change`` is ``rotated`` or ``revoked``; ``key_hint`` the public ``prefix…last4``."""
    if change == "rotated":
        lines = [
            f"API key {key_hint} of {partner_name} was rotated: a new key replaces it. "
            "The old key keeps working until the time below, then stops."
        ]
    else:
        lines = [f"API key {key_hint} of {partner_name} was revoked and no longer works."]
    lines.append("If you did not expect this, revoke your keys and contact Steller support.")
    return _render(
        f"Steller: API key {key_hint} {change}",
        f"An API key was {change}",
        lines,
        [("Key", f"{key_id} ({key_hint})"), *details],
    )


def webhook_disabled(*, partner_name: str, url: str, reason: str | None) -> Rendered:
    return _render(
        "Steller: your webhook endpoint was disabled",
        "Your webhook endpoint was disabled",
        [
            f"Steller stopped delivering webhooks of {partner_name} to {url}: "
            f"{reason or 'it kept failing'}.",
            "Fix the endpoint, re-enable it (PUT /api/partner/webhook) and redeliver the events "
            "it missed (POST /api/partner/webhook/events/{eventId}/redeliver).",
        ],
        [("Endpoint", url), ("Reason", reason or "n/a")],
    )


def alert(*, alert_public: Mapping[str, Any], reason: str) -> Rendered:
    """An admin alert (``reason``: ``new``, ``reopened`` or ``repeat``)."""
    kind = str(alert_public.get("kind"))
    severity = str(alert_public.get("severity"))
    prefix = {"repeat": "still open: ", "reopened": "re-opened: "}.get(reason, "")
    details = alert_public.get("details") or {}
    facts = [
        ("Alert", str(alert_public.get("id"))),
        ("Kind", kind),
        ("Severity", severity),
        ("Occurrences", str(alert_public.get("occurrences"))),
        ("First seen", str(alert_public.get("firstSeenAt"))),
        ("Last seen", str(alert_public.get("lastSeenAt"))),
    ]
    facts += [(str(k), str(v)) for k, v in sorted(details.items())]
    return _render(
        f"[Steller {severity}] {prefix}{alert_public.get('message')}",
        f"Steller alert: {kind}",
        [
            str(alert_public.get("message")),
            "Acknowledge it (POST /api/admin/alerts/{id}/ack) to stop reminders.",
        ],
        facts,
    )
