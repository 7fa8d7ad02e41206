"""The partner's catalog: ``GET /api/brand/getCatalog``.

Only the products an admin approved for the caller, at its prices in its wallet currency (the one
price function), filtered by face currency, country, brand (contains, case-insensitive),
category and SKU, paged by SKU. One read per page, outside a transaction: the page query, plus
the FX table only when the page needs a conversion; each process serves a rendered page for up to
a second (see :func:`steller_server.domain.partner_catalog.catalog_page`).
"""

from __future__ import annotations

from steller_server.api.routing import Ctx, Endpoints, Reply
from steller_server.domain import partner_catalog
from steller_server.domain.keys import Capability
from steller_server.domain.models import Partner
from steller_server.domain.pagination import DEFAULT_LIMIT

endpoints = Endpoints()


def _me(ctx: Ctx) -> Partner:
    if ctx.partner is None:  # pragma: no cover - auth="partner" always sets it
        raise RuntimeError("partner route without a partner principal")
    return ctx.partner.partner


@endpoints.op("getCatalog", auth="partner", capability=Capability.CATALOG, limit="catalog")
async def get_catalog(ctx: Ctx) -> Reply:
    partner = _me(ctx)
    q = ctx.query
    settings = ctx.state.settings
    filters = partner_catalog.CatalogFilters(
        currency=q.get("currency"),
        country=q.get("country"),
        brand=q.get("brand"),
        category=q.get("category"),
        sku=q.get("sku"),
    )
    body = await partner_catalog.catalog_page(
        ctx.state.db,
        partner_id=partner.id,
        wallet_currency=partner.currency,
        order_fee=settings.order_fee,
        fee_currency=settings.order_fee_currency,
        filters=filters,
        limit=q.get("limit", DEFAULT_LIMIT),
        cursor=q.get("cursor"),
    )
    return Reply(200, body)
