"""``GET /sandbox/outbox`` (HTML) and ``GET /sandbox/outbox.json`` (or ``?format=json``): the
emails the sandbox captured instead of sending (sandbox mode without SMTP). Mounted only in
sandbox mode.

Who sees what: a partner API key (``x-api-key``) sees its own partner's emails; an admin bearer
token sees all; without credentials only a loopback client (the developer running
``steller-server sandbox`` locally) sees all. ``?partnerId=`` narrows the admin/loopback view.
"""

from __future__ import annotations

import ipaddress
import json
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from steller_server.api import auth
from steller_server.api.problems import ProblemError, problem_response
from steller_server.api.state import AppState
from steller_server.notify.outbox import CapturedEmail, list_captured

__all__ = ["outbox_routes"]


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _scope(request: Request, state: AppState) -> str | None:
    """The partner id to restrict the list to (None = every partner)."""
    if request.headers.get("x-api-key"):
        principal = await auth.resolve_partner(request, state)
        return principal.partner_id
    wanted = request.query_params.get("partnerId") or None
    if request.headers.get("authorization"):
        await auth.resolve_admin(request, state)
        return wanted
    if _loopback(request.client.host if request.client else None):
        return wanted
    raise ProblemError(
        "unauthenticated", "Send a sandbox API key (x-api-key) or an admin token to see the outbox"
    )


def _html(emails: list[CapturedEmail]) -> str:
    items = []
    for mail in emails:
        items.append(
            '<article style="border:1px solid #ccc;margin:1em 0;padding:0.5em 1em">'
            f"<h3>{escape(mail.subject)}</h3>"
            f"<p><b>To:</b> {escape(', '.join(mail.recipients))} &middot; "
            f"<b>Kind:</b> {escape(mail.kind)} &middot; "
            f"<b>Partner:</b> {escape(mail.partner_id or '-')} &middot; "
            f"<b>At:</b> {escape(mail.created_at.isoformat())}</p>"
            f"<details><summary>Plain text</summary><pre>{escape(mail.text_body)}</pre>"
            "</details>"
            f'<iframe sandbox srcdoc="{escape(mail.html_body, quote=True)}" '
            'style="width:100%;height:18em;border:0"></iframe></article>'
        )
    body = "".join(items) or "<p>No emails captured yet.</p>"
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Sandbox outbox</title>'
        '</head><body style="font-family:sans-serif;max-width:60em;margin:auto">'
        "<h1>Sandbox outbox</h1><p>Emails Steller would have sent (SMTP is not configured "
        'in this sandbox). JSON: <a href="/sandbox/outbox.json">/sandbox/outbox.json</a>'
        f"</p>{body}</body></html>"
    )


async def outbox_endpoint(request: Request) -> Response:
    state: AppState = request.app.state.steller
    try:
        partner_id = await _scope(request, state)
    except ProblemError as exc:
        return problem_response(request, exc.code, exc.detail)
    async with state.db.read() as conn:
        emails = await list_captured(conn, partner_id=partner_id, limit=200)
    wants_json = request.url.path.endswith(".json") or request.query_params.get("format") == "json"
    if wants_json:
        return Response(
            json.dumps({"data": [m.public() for m in emails]}), media_type="application/json"
        )
    return HTMLResponse(
        _html(emails),
        headers={
            "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "frame-src 'self'"
        },
    )


def outbox_routes() -> list[Route]:
    return [
        Route("/sandbox/outbox", outbox_endpoint, methods=["GET"]),
        Route("/sandbox/outbox.json", outbox_endpoint, methods=["GET"]),
    ]
