"""Catalog sync (job kind ``catalog_sync``): the vendor catalog and FX rates into our tables.

* Brands are read page by page (Catalog v2, zero-based) through the vendor client, whose shared
  limiter keeps us within Bamboo's limits (catalog 1 req/s, exchange rates 20 req/min); one
  exchange-rates call per run (base USD; the FX table derives inverses and crosses).
* Each Bamboo product becomes one ``products`` row keyed by its SKU (the simulator's ``sku`` field;
  ``BAMBOO-<productId>`` when the vendor sends none): face values, cost (rounded *up* to the cost
  currency's minor unit, so the profit guard never underestimates cost), stock, currency, status.
* Categories: Bamboo lists category *ids* on each catalogue item (``categories: [int]``) and names
  them in ``GET /api/integration/v2.0/categories``, read once per run (only when some item has
  ids); a product's categories are the names as slugs (``Food & Drink`` -> ``food-and-drink``),
  the values partners filter the catalog by. If the list cannot be read, products keep the
  categories they had.
* Products that disappear from a complete catalog read are marked unavailable, never deleted
  (orders and approvals point at them). A failed read marks nothing.
* Runs are recorded in ``catalog_sync_runs`` with their counts (``domain/sync_runs.py``).

A *scheduled* sync is skipped when a sync succeeded less than ``FRESH_FOR`` (30 min) ago: the
sandbox syncs at start-up, and the worker's first scheduler tick right after it would otherwise
pull the whole catalog again. Admin-triggered syncs always run.

The job's first claim creates the run row (unless the admin route already did and passed
``runId``) and reschedules itself at once with the id, so a crash mid-sync resumes the same run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.engine import Database
from steller_server.db.tables import catalog_sync_runs, products
from steller_server.domain import catalog, money, sync_runs
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState
from steller_server.domain.models import Job
from steller_server.jobs.base import Done, JobContext, Later, Outcome, Retry
from steller_server.vendor import BambooClient, Brand, Product, VendorError

__all__ = ["FRESH_FOR", "category_slug", "product_row", "run", "start_and_sync", "sync_catalog"]

log = logging.getLogger("steller.catalog_sync")

#: Columns compared to decide whether a product changed.
_COMPARED = (
    "vendor_product_id",
    "name",
    "brand_name",
    "country_code",
    "face_currency",
    "denomination_type",
    "min_face_minor",
    "max_face_minor",
    "cost_min_minor",
    "cost_max_minor",
    "cost_currency",
    "stock",
    "available",
    "categories",
    "redemption_instructions",
    "terms",
    "logo_url",
)
LIVE_STATUSES = frozenset({"Live", "Active", "Enabled"})
FRESH_FOR = timedelta(minutes=30)


def _ceil_minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(money.exponent(currency)).to_integral_value(rounding=ROUND_CEILING))


def category_slug(name: str) -> str:
    """``"Food & Drink"`` -> ``"food-and-drink"``: the value partners filter the catalog by."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", " and ")).strip("-")
    return words[:64]


def product_row(
    brand: Brand, product: Product, categories: Mapping[int, str] | None = None
) -> dict[str, Any] | None:
    """Our ``products`` row for a Bamboo product, or None when it cannot be sold (no face value,
    unknown currency). ``categories`` names the vendor's category ids (without it: none)."""
    face_currency = (brand.currency_code or product.price.currency).upper()
    try:
        min_face = money.to_minor(product.min_face_value, face_currency)
        max_face = money.to_minor(product.max_face_value, face_currency)
        cost_currency = product.price.currency.upper()
        cost_min = _ceil_minor(product.price.min, cost_currency)
        cost_max = _ceil_minor(product.price.max, cost_currency)
    except ValueError:
        return None
    if min_face <= 0 or max_face < min_face or cost_min < 0 or cost_max < 0:
        return None
    country = (brand.country_code or "").upper()[:2]
    return {
        "sku": (product.sku or f"BAMBOO-{product.id}")[:64],
        "vendor_product_id": str(product.id),
        "name": (product.name or brand.name)[:200],
        "brand_name": brand.name[:200],
        "country_code": country if len(country) == 2 else "ZZ",
        "categories": _categories(brand, categories),
        "face_currency": face_currency,
        "denomination_type": "fixed" if min_face == max_face else "range",
        "min_face_minor": min_face,
        "max_face_minor": max_face,
        "cost_min_minor": cost_min,
        "cost_max_minor": cost_max,
        "cost_currency": cost_currency,
        "stock": product.count,
        "available": product.status is None or product.status in LIVE_STATUSES,
        "redemption_instructions": brand.redemption_instructions or None,
        "terms": brand.terms or None,
        "logo_url": brand.logo_url,
    }


def _categories(brand: Brand, names: Mapping[int, str] | None) -> list[str]:
    if not names:
        return []
    slugs = [category_slug(names[i]) for i in brand.categories if names.get(i)]
    return list(dict.fromkeys(s for s in slugs if s))


async def _category_names(vendor: BambooClient, brands: list[Brand]) -> dict[int, str] | None:
    """The vendor's category names by id (one call; skipped when no brand lists ids), or None
    when they cannot be read."""
    if not any(brand.categories for brand in brands):
        return {}
    try:
        return {c.id: c.name for c in await vendor.get_categories()}
    except VendorError as exc:
        log.warning("catalog sync: vendor categories unavailable (%s); keeping ours", exc)
        return None


async def _bulk_upsert(conn: AsyncConnection, rows: list[dict[str, Any]], now: datetime) -> None:
    """One ``INSERT … ON CONFLICT (sku) DO UPDATE`` executed for all rows (executemany): the
    same effect as ``catalog.upsert_products`` without a round trip per product."""
    if not rows:
        return
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(products)
    updates = {col: stmt.excluded[col] for col in (*_COMPARED, "updated_at")}
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["sku"], set_=updates),
        [{**row, "created_at": now, "updated_at": now} for row in rows],
    )


async def sync_catalog(
    db: Database,
    vendor: BambooClient,
    *,
    run_id: str,
    clock: Callable[[], datetime] = utcnow,
    page_size: int = 100,
) -> sync_runs.SyncRun:
    """Pull everything and record the outcome on run ``run_id``; vendor errors end the run
    ``failed`` (nothing marked unavailable) instead of raising."""
    read: list[Brand] = []
    rows: dict[str, dict[str, Any]] = {}
    counts = sync_runs.SyncCounts()
    try:
        async for brand in vendor.iter_catalog(page_size=page_size):
            read.append(brand)
        names = await _category_names(vendor, read)
        for brand in read:
            for product in brand.products:
                row = product_row(brand, product, names)
                if row is not None:
                    rows[row["sku"]] = row
        rates = await vendor.get_exchange_rates()
    except VendorError as exc:
        log.warning("catalog sync %s failed: %s", run_id, exc)
        counts = sync_runs.SyncCounts(brands=len(read), products=len(rows))
        async with db.write() as conn:
            return await sync_runs.finish_run(
                conn, run_id=run_id, counts=counts, error=f"vendor: {exc}", now=clock()
            )
    now = clock()
    async with db.write() as conn:
        existing = {r["sku"]: dict(r) for r in (await conn.execute(select(products))).mappings()}
        created = updated = 0
        changed: list[dict[str, Any]] = []
        for sku, row in rows.items():
            before = existing.get(sku)
            if names is None and before is not None:
                row["categories"] = list(before["categories"])  # unknown now: keep ours
            if before is None:
                created += 1
                changed.append(row)
            elif any(before.get(col) != row[col] for col in _COMPARED):
                updated += 1
                changed.append(row)
        await _bulk_upsert(conn, changed, now)
        gone = [sku for sku, r in existing.items() if sku not in rows and r["available"]]
        if gone:
            await conn.execute(
                update(products)
                .where(products.c.sku.in_(gone))
                .values(available=False, updated_at=now)
            )
        usable = {
            code: rate
            for code, rate in rates.rates.items()
            if rate > 0 and code != rates.base and len(code) == 3
        }
        stored = await catalog.store_rates(conn, base=rates.base, rates=usable, fetched_at=now)
        counts = sync_runs.SyncCounts(
            brands=len(read),
            products=len(rows),
            created=created,
            updated=updated,
            marked_unavailable=len(gone),
            exchange_rates=stored,
        )
        run = await sync_runs.finish_run(conn, run_id=run_id, counts=counts, now=now)
    log.info(
        "catalog sync %s: %d brands, %d products (%d new, %d changed, %d gone), %d rates",
        run_id,
        len(read),
        len(rows),
        created,
        updated,
        len(gone),
        stored,
    )
    return run


async def start_and_sync(
    db: Database, vendor: BambooClient, *, trigger: str, clock: Callable[[], datetime] = utcnow
) -> sync_runs.SyncRun:
    """Record a run and sync now (the sandbox start-up does this without a worker)."""
    async with db.write() as conn:
        run = await sync_runs.start_run(conn, trigger=trigger, now=clock())
    return await sync_catalog(db, vendor, run_id=run.id, clock=clock)


async def _last_success(db: Database) -> datetime | None:
    async with db.read() as conn:
        last: datetime | None = await conn.scalar(
            select(func.max(catalog_sync_runs.c.started_at)).where(
                catalog_sync_runs.c.status == "succeeded"
            )
        )
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)  # SQLite returns naive UTC from an aggregate
    return last


async def run(job: Job, ctx: JobContext) -> Outcome:
    if ctx.vendor is None:
        return Retry("no vendor client configured (STELLER_BAMBOO_*)")
    run_id = job.payload.get("runId")
    trigger = str(job.payload.get("trigger") or "schedule")
    if not run_id and trigger == "schedule":
        last = await _last_success(ctx.db)
        if last is not None and ctx.clock() - last < FRESH_FOR:
            log.info("scheduled catalog sync skipped: the last one started at %s", last)
            return Done()
    if not run_id:
        try:
            async with ctx.db.write() as conn:
                started = await sync_runs.start_run(conn, trigger=trigger, now=ctx.clock())
        except InvalidState as exc:
            log.info("scheduled catalog sync skipped: %s", exc)
            return Done()
        return Later(ctx.clock(), {**job.payload, "runId": started.id})
    async with ctx.db.read() as conn:
        current = await sync_runs.get_run(conn, run_id=str(run_id))
    if current.status != "running":
        return Done()
    await sync_catalog(ctx.db, ctx.vendor, run_id=current.id, clock=ctx.clock)
    return Done()
