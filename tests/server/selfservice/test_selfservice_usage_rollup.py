"""The daily order rollup (``domain/usage_rollup.py``, migration 0004) gives exactly the figures of
the raw aggregate over the orders, through every kind of order change, and its backfill agrees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, delete, select, update
from sqlalchemy.pool import NullPool

from steller_server.db import migrate
from steller_server.db.engine import Database
from steller_server.db.tables import order_usage_daily
from steller_server.domain import orders as order_ops
from steller_server.domain import usage, usage_rollup
from steller_server.domain.crypto import Cipher
from steller_server.settings import Settings
from tests.server.selfservice.selfservice_history import (
    AMAZON,
    NOW,
    STEAM,
    History,
    _cards,
    _order,
    at,
    build_history,
)


async def _extend(history: History, factory: Any, database: Database, settings: Settings) -> None:
    """On top of the scripted history: a cancellation, an admin fail-and-refund, an admin refund
    of a delivered order, an order in the last microsecond of a day, and another partner."""
    partner, cipher, ids = history.partner, Cipher(settings.effective_secret_key), history.orders
    admin = {"actor": "admin:usr_1", "reason": "ops"}

    async def order(sku: str, face: str, quantity: int, ref: str, when: str) -> str:
        return await _order(database, settings, partner, sku, face, quantity, ref, at(when))

    ids["F"] = await order(STEAM, "25", 2, "F", "2026-03-02T23:59:59.999999")
    ids["G"] = await order(AMAZON, "50", 1, "G", "2026-03-03T00:00:00")
    ids["H"] = await order(AMAZON, "50", 2, "H", "2026-03-09T10:00:00")
    await order_ops.cancel_order(
        database, order_id=ids["F"], actor="partner:x", reason="no", now=at("2026-03-03T00:00:01")
    )
    await order_ops.mark_failed_and_refund(
        database, order_id=ids["G"], **admin, now=at("2026-03-04T08:00:00")
    )
    await order_ops.refund_remaining(
        database, order_id=ids["A"], **admin, now=at("2026-03-06T08:00:00")
    )
    async with database.write() as conn:  # a partial delivery of H, then the rest refunded
        await order_ops.complete_order(
            conn, order_id=ids["H"], cards=_cards(1), cipher=cipher, now=at("2026-03-09T10:05:00")
        )
    await order_ops.refund_remaining(
        database, order_id=ids["H"], **admin, now=at("2026-03-09T11:00:00")
    )
    other, _ = await factory.partner(name="Other", balance="100.00", approve={AMAZON: "0"})
    await _order(database, settings, other, AMAZON, "50", 1, "O1", at("2026-03-08T12:00:00"))


@pytest.fixture
async def history(factory: Any, database: Database, settings: Settings, clock: Any) -> History:
    clock.now = NOW
    built = await build_history(factory, database, settings)
    await _extend(built, factory, database, settings)
    return built


async def _both_groups(database: Database, partner_id: str, days: int) -> tuple[list[Any], ...]:
    start, end = usage.window(days, NOW)
    async with database.read() as conn:
        rolled = await usage_rollup.rollup_groups(
            conn, partner_id=partner_id, first_day=start.date(), end_day=end.date()
        )
        raw = await usage_rollup.raw_groups(conn, partner_id=partner_id, start=start, end=end)
    return sorted(rolled), sorted(raw)


@pytest.mark.parametrize("days", [1, 2, 7, 8, 30, 365])
async def test_rollup_usage_equals_the_raw_aggregate(
    history: History, database: Database, days: int
) -> None:
    pid = history.partner.id
    rolled, raw = await _both_groups(database, pid, days)
    assert rolled == raw
    async with database.read() as conn:
        fast = await usage.usage_summary(conn, partner_id=pid, currency="USD", days=days, now=NOW)
        reference = await usage.usage_summary(
            conn, partner_id=pid, currency="USD", days=days, now=NOW, from_orders=True
        )
    assert fast.public() == reference.public()


async def test_rollup_follows_every_kind_of_change(history: History, database: Database) -> None:
    """Known answers for the 365-day window (money in cents)."""
    rolled, _ = await _both_groups(database, history.partner.id, 365)
    by_key = {(d.isoformat(), status, sku): (n, t, r) for d, status, sku, n, t, r in rolled}
    assert by_key == {
        ("2026-02-10", "completed", AMAZON): (1, 5250, 5250),  # A, admin refund of the rest
        ("2026-02-20", "failed", AMAZON): (1, 10500, 10500),  # B
        ("2026-03-01", "completed", STEAM): (1, 2500, 0),  # C
        ("2026-03-02", "cancelled", STEAM): (1, 5000, 5000),  # F, last microsecond of the day
        ("2026-03-03", "failed", AMAZON): (1, 5250, 5250),  # G
        ("2026-03-05", "partially_completed", AMAZON): (1, 15750, 5250),  # D
        ("2026-03-09", "partially_completed", AMAZON): (1, 10500, 10500),  # H
        ("2026-03-10", "processing", AMAZON): (1, 5250, 0),  # E
    }


@contextmanager
def _alembic(settings: Settings) -> Iterator[tuple[Any, Connection]]:
    engine = create_engine(migrate.sync_url(settings.database_url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config = migrate.alembic_config()
            config.attributes["connection"] = connection
            yield config, connection
    finally:
        engine.dispose()


async def test_migration_backfills_the_rollup_and_downgrades(
    history: History, database: Database, settings: Settings
) -> None:
    columns = list(order_usage_daily.c)
    async with database.read() as conn:
        kept = sorted(
            tuple(r) for r in (await conn.execute(select(*columns))).all() if r.order_count
        )
    await database.dispose()  # the migration needs the tables to itself
    try:
        with _alembic(settings) as (config, _):
            command.downgrade(config, "0003")
        assert migrate.current_revision(settings) == "0003"
    finally:
        migrate.upgrade(settings)  # the backfill; also leaves the database at head on failure
    with _alembic(settings) as (_, connection):
        rebuilt = sorted(tuple(r) for r in connection.execute(select(*columns)).all())
    assert rebuilt == kept
    assert len({r[0] for r in rebuilt}) == 2  # both partners


async def test_rebuild_recomputes_a_drifted_rollup(history: History, database: Database) -> None:
    """After a rolling deploy over 0004, orders changed by older processes are not in the rollup;
    ``rebuild`` makes it equal to the orders again."""
    columns = list(order_usage_daily.c)
    async with database.read() as conn:
        kept = sorted(tuple(r) for r in (await conn.execute(select(*columns))).all())
    async with database.write() as conn:
        await conn.execute(delete(order_usage_daily).where(order_usage_daily.c.sku == STEAM))
        await conn.execute(update(order_usage_daily).values(order_count=7))
        await usage_rollup.rebuild(conn)
    async with database.read() as conn:
        rebuilt = sorted(tuple(r) for r in (await conn.execute(select(*columns))).all())
    assert rebuilt == [r for r in kept if r[4]]
    rolled, raw = await _both_groups(database, history.partner.id, 365)
    assert rolled == raw
