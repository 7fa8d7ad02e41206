"""db/driver.py: statements run on psycopg's own connection behave as SQLAlchemy's (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from steller_server.db.driver import DriverStatement, check_unwatched
from steller_server.db.engine import Database
from steller_server.db.tables import fx_rates, partner_products, products, wallets
from steller_server.domain import orders as order_ops
from steller_server.domain import placement
from steller_server.domain.keys import AuthCache
from steller_server.domain.partner_catalog import _PageCache


@pytest.fixture
def pg(database: Database) -> Database:
    if not database.is_postgres:
        pytest.skip("PostgreSQL only")
    return database


async def test_rows_come_back_as_sqlalchemy_gives_them(pg: Database, factory: Any) -> None:
    await factory.product()
    partner, _wallet = await factory.partner(balance="500.00", approve={"AMAZON-US-50": "-5"})
    values = {"sku": "AMAZON-US-50", "partner_id": partner.id}
    async with pg.statement() as conn:
        expected = dict((await conn.execute(order_ops._CONTEXT, values)).mappings().one())
        statement = DriverStatement(order_ops._CONTEXT, conn.dialect)
        got = await statement.first(conn, values)
        again = await statement.first(conn, values)  # processors built on the first result
    assert got == expected == again
    assert got is not None
    # The types the domain relies on: aware UTC datetimes, exact decimals, JSON lists.
    assert got["w_created_at"].tzinfo is UTC
    assert isinstance(got["discount_percent"], Decimal)
    assert isinstance(got["categories"], list)


async def test_no_row_is_none_and_parameters_go_through_bind_processors(pg: Database) -> None:
    async with pg.statement() as conn:
        statement = DriverStatement(
            select(wallets.c.id).where(wallets.c.updated_at > datetime(2000, 1, 1, tzinfo=UTC)),
            conn.dialect,
        )
        assert await statement.first(conn, {}) is None
        naive = DriverStatement(
            insert(fx_rates).values(
                base="USD", quote="EUR", rate=Decimal("0.9"), fetched_at=datetime(2026, 1, 1)
            ),
            conn.dialect,
        )
        with pytest.raises(ValueError, match="naive datetime"):  # UTCDateTime refuses it
            await naive.first(conn, {})


async def test_errors_are_sqlalchemys(pg: Database, factory: Any) -> None:
    await factory.product()
    partner, _ = await factory.partner(approve={"AMAZON-US-50": "0"})
    row = {
        "partner_id": partner.id,
        "sku": "AMAZON-US-50",
        "discount_percent": Decimal("1"),
        "approved_by": "admin:usr_test",
        "approved_at": datetime.now(UTC),
    }
    async with pg.statement() as conn:
        duplicate = DriverStatement(insert(partner_products).values(**row), conn.dialect)
        with pytest.raises(IntegrityError) as caught:
            await duplicate.first(conn, {})
    assert caught.value.orig is not None
    assert "partner_products" in str(caught.value)
    # The connection is still good: the pool hands it out again.
    async with pg.statement() as conn:
        assert (await conn.execute(select(products.c.sku))).scalar() == "AMAZON-US-50"


async def test_a_dropped_connection_is_invalidated_and_replaced(pg: Database) -> None:
    async with pg.statement() as conn:
        statement = DriverStatement(select(wallets.c.id).limit(1), conn.dialect)
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with pg.statement() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught:
            await statement.first(conn, {})
    assert caught.value.connection_invalidated  # the API answers 503 (api/state.py)
    async with pg.statement() as conn:
        await statement.first(conn, {})  # a fresh connection: no error
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1


def test_no_watched_cache_misses_the_order_write() -> None:
    # The placement statement bypasses SQLAlchemy's events, so no cache may watch its tables.
    from sqlalchemy.dialects import postgresql

    statement = DriverStatement(placement.statement(), postgresql.psycopg.dialect())
    for cache in (AuthCache(), _PageCache()):
        assert check_unwatched(statement, cache.tables) == [], cache
