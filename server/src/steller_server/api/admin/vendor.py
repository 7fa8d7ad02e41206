"""Admin views of the vendor: ``GET /api/admin/vendor/accounts`` (live) and
``GET /api/admin/vendor/exchange-rates`` (cached for an hour per base currency).

The vendor client lives in ``AppState.extras["vendor"]`` (set by the server/sandbox factories);
without one, or when Bamboo cannot be reached (and nothing is cached), the answer is 503.
Exchange rates fall back to the rates the last catalog sync stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from steller_server.api.problems import ProblemError
from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.db.tables import fx_rates
from steller_server.domain import money
from steller_server.vendor import VendorError

endpoints = Endpoints()

FX_CACHE_EXTRA = "vendor_fx_cache"
FX_TTL = timedelta(hours=1)


def _vendor(ctx: Ctx) -> Any:
    vendor = ctx.state.extras.get("vendor")
    if vendor is None:
        raise ProblemError(
            "service_unavailable",
            "No vendor is configured on this server",
            headers={"Retry-After": "60"},
        )
    return vendor


def _ts(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@endpoints.op("adminListVendorAccounts", auth="admin", roles={"admin", "finance"})
async def admin_list_vendor_accounts(ctx: Ctx) -> Reply:
    try:
        accounts = await _vendor(ctx).get_accounts()
    except VendorError as exc:
        raise ProblemError(
            "service_unavailable",
            f"The vendor could not be reached: {exc}",
            headers={"Retry-After": "5"},
        ) from exc
    data = [
        {
            "id": a.id,
            "currency": a.currency,
            "balance": money.format_decimal(a.balance, max_places=4, min_places=2),
            "isActive": a.is_active,
            "sandboxMode": a.sandbox_mode,
        }
        for a in accounts
    ]
    return Reply(200, {"data": data, "nextCursor": None})


def _rates_body(base: str, rates: dict[str, Decimal], fetched_at: datetime) -> dict[str, Any]:
    return {
        "baseCurrency": base,
        "rates": [
            {"currency": code, "rate": money.format_decimal(rate, max_places=10)}
            for code, rate in sorted(rates.items())
            if rate > 0
        ],
        "fetchedAt": _ts(fetched_at),
    }


@endpoints.op("adminGetExchangeRates", auth="admin", roles={"admin", "finance"})
async def admin_get_exchange_rates(ctx: Ctx) -> Reply:
    base = ctx.query.get("base") or "USD"
    now = ctx.state.clock()
    cache: dict[str, tuple[dict[str, Decimal], datetime]] = ctx.state.extras.setdefault(
        FX_CACHE_EXTRA, {}
    )
    cached = cache.get(base)
    if cached is not None and now - cached[1] < FX_TTL:
        return Reply(200, _rates_body(base, *cached))
    try:
        fetched = await _vendor(ctx).get_exchange_rates(base=base)
    except (VendorError, ProblemError) as exc:
        if cached is not None:
            return Reply(200, _rates_body(base, *cached))
        stored = await _stored_rates(ctx, base)
        if stored is not None:
            return Reply(200, _rates_body(base, *stored))
        raise ProblemError(
            "service_unavailable",
            f"The vendor's exchange rates are unavailable: {exc}",
            headers={"Retry-After": "5"},
        ) from exc
    rates = {code: rate for code, rate in fetched.rates.items() if code != fetched.base}
    cache[base] = (rates, now)
    return Reply(200, _rates_body(fetched.base, rates, now))


async def _stored_rates(ctx: Ctx, base: str) -> tuple[dict[str, Decimal], datetime] | None:
    async with ctx.state.db.read() as conn:
        rows = (
            await conn.execute(
                select(fx_rates.c.quote, fx_rates.c.rate).where(fx_rates.c.base == base)
            )
        ).all()
        fetched_at = await conn.scalar(
            select(func.max(fx_rates.c.fetched_at)).where(fx_rates.c.base == base)
        )
    if not rows or fetched_at is None:
        return None
    return {r.quote: r.rate for r in rows}, fetched_at
