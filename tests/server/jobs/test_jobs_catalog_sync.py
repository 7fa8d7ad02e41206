"""Catalog sync against the in-process simulator: categories as Bamboo carries them (ids on each
catalogue item, named by the categories endpoint), and no second sync right after start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update

from steller_server.api.contract import Contract
from steller_server.db.engine import Database
from steller_server.db.tables import catalog_sync_runs, products
from steller_server.db.tables import jobs as jobs_table
from steller_server.domain import jobs
from steller_server.jobs.catalog_sync import FRESH_FOR, category_slug, start_and_sync
from steller_server.jobs.registry import CATALOG_SYNC
from steller_server.jobs.worker import Worker
from steller_server.sandbox_mode import running
from steller_server.settings import Settings
from steller_server.vendor import BambooClient, VendorUnavailable
from tests.server.api.admin_kit import cheap_password_hashing
from tests.server.jobs.test_jobs_sandbox_e2e import eventually, make_sandbox

__all__ = ["cheap_password_hashing"]  # autouse fixture: argon2 at minimal cost in these tests


async def _categories(database: Database, *skus: str) -> dict[str, list[str]]:
    async with database.read() as conn:
        rows = await conn.execute(
            select(products.c.sku, products.c.categories).where(products.c.sku.in_(skus))
        )
        return {row.sku: list(row.categories) for row in rows}


async def _runs(database: Database) -> int:
    async with database.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(catalog_sync_runs)) or 0)


def test_category_slugs_are_the_values_partners_filter_by() -> None:
    assert category_slug("Gaming") == "gaming"
    assert category_slug("Food & Drink") == "food-and-drink"
    assert category_slug(" Prepaid  Cards ") == "prepaid-cards"


async def test_sync_names_each_product_s_categories_from_the_vendor_list(
    database: Database, vendor: BambooClient, clocks: Any
) -> None:
    run = await start_and_sync(database, vendor, trigger="admin", clock=clocks)
    assert run.status == "succeeded"
    found = await _categories(database, "STM-DE-25", "SBX-US-10", "AMZ-US-VAR", "SIM-OK-10")
    assert found == {
        "STM-DE-25": ["gaming"],
        "SBX-US-10": ["food-and-drink"],
        "AMZ-US-VAR": ["shopping"],
        "SIM-OK-10": ["testing"],
    }
    async with database.read() as conn:
        every = (await conn.execute(select(products.c.categories))).scalars().all()
    assert every
    assert all(every)  # no product without a category


async def test_a_category_change_alone_updates_the_product_and_an_unreadable_list_keeps_it(
    database: Database,
    vendor: BambooClient,
    clocks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start_and_sync(database, vendor, trigger="admin", clock=clocks)
    async with database.write() as conn:
        await conn.execute(
            update(products).where(products.c.sku == "STM-DE-25").values(categories=[])
        )
    again = await start_and_sync(database, vendor, trigger="admin", clock=clocks)
    assert again.updated == 1
    assert await _categories(database, "STM-DE-25") == {"STM-DE-25": ["gaming"]}

    async def unavailable() -> list[Any]:
        raise VendorUnavailable("categories down")

    monkeypatch.setattr(vendor, "get_categories", unavailable)
    third = await start_and_sync(database, vendor, trigger="admin", clock=clocks)
    assert third.status == "succeeded"
    assert third.updated == 0
    assert await _categories(database, "STM-DE-25") == {"STM-DE-25": ["gaming"]}


async def _enqueue_scheduled_sync(database: Database, clocks: Any) -> None:
    async with database.write() as conn:
        await jobs.enqueue(conn, kind=CATALOG_SYNC, payload={"trigger": "schedule"}, now=clocks())


async def test_a_scheduled_sync_just_after_a_sync_is_skipped(
    database: Database,
    vendor: BambooClient,
    clocks: Any,
    make_worker: Callable[..., Worker],
) -> None:
    await start_and_sync(database, vendor, trigger="schedule", clock=clocks)
    worker = make_worker()
    await _enqueue_scheduled_sync(database, clocks)
    await worker.run_until_idle()
    assert await _runs(database) == 1

    clocks.advance(FRESH_FOR.total_seconds() + 1)
    await _enqueue_scheduled_sync(database, clocks)
    await worker.run_until_idle()
    assert await _runs(database) == 2


async def test_sandbox_start_up_syncs_the_catalog_once(
    settings: Settings, database: Database, contract: Contract
) -> None:
    """The start-up sync, then the worker's first scheduler tick enqueues the hour's sync: that
    one is skipped, not a second pull of the whole catalog."""
    sandbox = make_sandbox(settings, database, contract)

    async def scheduled_sync_done() -> bool:
        async with database.read() as conn:
            status = await conn.scalar(
                select(jobs_table.c.status).where(jobs_table.c.kind == CATALOG_SYNC)
            )
        return status == "done"

    async with running(sandbox):
        await eventually(scheduled_sync_done)
        assert await _runs(database) == 1
