"""`GET /api/partner/statements/{YYYY-MM}`: JSON or CSV, chosen by `Accept` (406 otherwise)."""

from __future__ import annotations

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import statements
from steller_server.domain.keys import Capability

endpoints = Endpoints()

JSON = "application/json"
CSV = "text/csv"


_RANGES = {
    "*/*": (JSON, 0),
    "application/*": (JSON, 1),
    "text/*": (CSV, 1),
    JSON: (JSON, 2),
    CSV: (CSV, 2),
}


def negotiate(accept: str | None) -> str | None:
    """The best of JSON (preferred on ties) and CSV for an ``Accept`` header; None if neither."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[tuple[float, int, bool, int], str] | None = None
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        matches = _RANGES.get(media.lower())
        if matches is None:
            continue
        chosen, specificity = matches
        # Higher q wins, then the more specific range, then JSON over CSV, then header order.
        rank = (quality, specificity, chosen == JSON, -position)
        if best is None or rank > best[0]:
            best = (rank, chosen)
    return best[1] if best else None


@endpoints.op("getStatement", auth="partner", capability=Capability.FINANCE_READ)
async def get_statement(ctx: Ctx) -> Reply:
    assert ctx.partner is not None
    media = negotiate(ctx.request.headers.get("accept"))
    if media is None:
        raise ProblemError(
            "not_acceptable", "Statements are available as application/json or text/csv."
        )
    period = str(ctx.path["period"])
    partner_id = ctx.partner.partner_id
    now = ctx.state.clock()
    vary = {"Vary": "Accept"}
    if media == CSV:
        stream = await statements.stream_statement_csv(
            ctx.state.db, partner_id=partner_id, period=period, now=now
        )
        return Reply(
            200,
            stream=stream,
            media_type="text/csv; charset=utf-8",
            headers={
                **vary,
                "Content-Disposition": f'attachment; filename="steller-statement-{period}.csv"',
            },
        )
    async with ctx.state.db.read() as conn:
        statement = await statements.monthly_statement(
            conn, partner_id=partner_id, period=period, now=now
        )
    return Reply(200, statement.public(), headers=vary)
