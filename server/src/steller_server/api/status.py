"""The public status page: `GET /api/status` (JSON, in the contract) and `GET /status` (HTML).

Component states and incidents are read live on every request; uptime percentages move slowly
and are cached per process for :data:`UPTIME_CACHE` of app-clock time. If the database cannot be
reached the page still answers, from what this process knows: the API is in a major outage and
the other components cannot be measured.

`status_page_routes()` returns the extra Starlette route for the HTML page; `create_app` mounts it
via ``extra_routes``. The HTML is server-rendered (no script), rate limited like the JSON route.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.api.state import AppState
from steller_server.domain import status as status_domain
from steller_server.domain.status import ComponentState, StatusPage

endpoints = Endpoints()

UPTIME_CACHE = timedelta(seconds=60)
_CACHE_KEY = "status.uptime"
STATUS_LABELS = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
OVERALL_LABELS = {
    "operational": "All systems operational",
    "degraded": "Some systems are degraded",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


async def _uptimes(state: AppState, now: datetime) -> dict[str, dict[str, float]]:
    cached = state.extras.get(_CACHE_KEY)
    if cached is not None:
        at, value = cached
        if timedelta(0) <= now - at < UPTIME_CACHE:
            return dict(value)
    async with state.db.read() as conn:
        value = await status_domain.uptime(conn, now=now)
    state.extras[_CACHE_KEY] = (now, value)
    return value


def _unavailable_page(now: datetime) -> StatusPage:
    unknown = "Cannot be measured while the database is unavailable"
    components = [
        ComponentState(id="api", status="major_outage", detail="The database is not answering"),
        *(
            ComponentState(id=c, status="degraded", detail=unknown)
            for c in ("fulfilment", "vendor", "webhooks")
        ),
    ]
    return StatusPage(status="major_outage", components=components, incidents=[], updated_at=now)


async def current_page(state: AppState) -> StatusPage:
    now = state.clock()
    try:
        return await status_domain.status_page(
            state.db, now=now, uptimes=await _uptimes(state, now)
        )
    except Exception as exc:
        if state.is_unavailable(exc):
            return _unavailable_page(now)
        raise


@endpoints.op("getStatus", auth="public", limit="default")
async def get_status(ctx: Ctx) -> Reply:
    page = await current_page(ctx.state)
    return Reply(200, page.public(), headers={"Cache-Control": "no-cache"})


# -- the HTML page ---------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#1d2330}
main{max-width:760px;margin:0 auto;padding:32px 16px}
h1{font-size:22px;margin:0 0 16px}
.banner{padding:16px 20px;border-radius:8px;color:#fff;font-weight:600;margin-bottom:24px}
.operational{background:#1f9d55}.degraded{background:#d69e2e}
.partial_outage{background:#dd6b20}.major_outage{background:#c53030}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:10px 12px;border-bottom:1px solid #e6e8eb;font-size:14px}
td.state{font-weight:600}.s-operational{color:#1f9d55}.s-degraded{color:#b7791f}
.s-partial_outage{color:#c05621}.s-major_outage{color:#c53030}
.detail{color:#5a6270;font-size:13px}
section.incident{background:#fff;border-radius:8px;padding:16px 20px;margin-top:16px}
section.incident h3{margin:0 0 4px;font-size:16px}
.meta{color:#5a6270;font-size:13px}
ol.updates{padding-left:18px;margin:8px 0 0}
footer{color:#5a6270;font-size:12px;margin-top:24px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _component_row(component: ComponentState) -> str:
    public = component.public()
    uptime = public["uptime"]
    detail = f'<div class="detail">{_e(public["detail"])}</div>' if public["detail"] else ""
    return (
        f'<tr data-component="{_e(public["id"])}"><td>{_e(public["name"])}{detail}</td>'
        f'<td class="state s-{_e(component.status)}">{_e(STATUS_LABELS[component.status])}</td>'
        f"<td>{uptime['last24h']:.2f} %</td><td>{uptime['last7d']:.2f} %</td>"
        f"<td>{uptime['last30d']:.2f} %</td></tr>"
    )


def render_html(page: StatusPage) -> str:
    data = page.public()
    rows = "".join(_component_row(c) for c in page.components)
    incidents = []
    for incident in data["incidents"]:
        updates = "".join(
            f"<li><strong>{_e(u['status'].title())}</strong> — {_e(u['message'])} "
            f'<span class="meta">{_e(u["createdAt"])}</span></li>'
            for u in reversed(incident["updates"])
        )
        state = "Resolved" if incident["status"] == "resolved" else "Open"
        incidents.append(
            f'<section class="incident" data-incident="{_e(incident["id"])}">'
            f"<h3>{_e(incident['title'])}</h3>"
            f'<div class="meta">{state} · impact {_e(incident["impact"])} · affects '
            f"{_e(', '.join(incident['components']))} · since {_e(incident['createdAt'])}</div>"
            f'<ol class="updates">{updates}</ol></section>'
        )
    incident_html = "".join(incidents) or '<p class="meta">No incidents in the last 7 days.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="refresh" content="60">'
        f"<title>Steller status</title><style>{_CSS}</style></head><body><main>"
        "<h1>Steller status</h1>"
        f'<div class="banner {_e(page.status)}" id="overall">'
        f"{_e(OVERALL_LABELS[page.status])}</div>"
        '<table id="components"><thead><tr><th>Component</th><th>Status</th><th>24 h</th>'
        f"<th>7 days</th><th>30 days</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<h2>Incidents</h2><div id="incidents">{incident_html}</div>'
        f"<footer>Updated {_e(data['updatedAt'])} · "
        '<a href="/api/status">JSON</a></footer></main></body></html>'
    )


async def status_html(request: Request) -> Response:
    state: AppState = request.app.state.steller
    client = request.client.host if request.client else "unknown"
    decision = await state.limiter.hit("default", client)
    headers = decision.headers()
    if not decision.allowed:
        state.metrics_rate_limited("default")
        return HTMLResponse(
            "<!doctype html><title>Too many requests</title>"
            "<p>Too many requests; retry shortly.</p>",
            429,
            headers=headers,
        )
    page = await current_page(state)
    return HTMLResponse(render_html(page), headers={**headers, "Cache-Control": "no-cache"})


def status_page_routes() -> list[BaseRoute]:
    """Extra routes for `create_app(extra_routes=...)`: the HTML status page at `/status`."""
    return [Route("/status", status_html, methods=["GET"], name="statusPageHtml")]
