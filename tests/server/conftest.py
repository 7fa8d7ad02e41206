"""Shared server fixtures: settings and a migrated database, on SQLite and on PostgreSQL.

``database`` (and ``settings``) are parametrised over ``db_backend`` = ``sqlite`` | ``postgres``:
every test that uses them runs on both. PostgreSQL runs only when ``STELLER_TEST_POSTGRES_URL``
is set (e.g. ``postgresql://postgres@127.0.0.1:5432/test``) and is skipped otherwise.

Isolation: the Alembic migrations run once per session (into a template SQLite file, and into a
throwaway PostgreSQL database ``steller_test_<random>`` created through the ``postgres``
maintenance database and dropped at the end). Each test then gets a fresh copy of the SQLite file,
or the PostgreSQL database with every table emptied.

``factory`` creates partners, products, rates and approvals directly through the domain layer.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from steller_server.db.engine import Database
from steller_server.db.migrate import sync_url, upgrade
from steller_server.db.tables import metadata
from steller_server.domain import catalog, ledger, money
from steller_server.domain.models import Partner, Wallet
from steller_server.domain.partners import create_partner
from steller_server.settings import Settings

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef0123456789abcdef"
POSTGRES_ENV = "STELLER_TEST_POSTGRES_URL"


def _base_settings(database_url: str) -> Settings:
    return Settings(mode="sandbox", secret_key=TEST_SECRET_KEY).replace(database_url=database_url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the migrations applied, copied for each test."""
    path = tmp_path_factory.mktemp("steller-template") / "template.sqlite3"
    upgrade(_base_settings(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for the session (skips without the env var)."""
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"{POSTGRES_ENV} not set")
    name = f"steller_test_{secrets.token_hex(6)}"
    maintenance = make_url(sync_url(admin_url)).set(database="postgres")
    admin = create_engine(maintenance, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(sync_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(_base_settings(url))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_all_tables(url: str) -> None:
    """Delete every row. With triggers off (``session_replication_role = replica``, superuser)
    a DELETE per table takes ~30 ms where TRUNCATE takes ~0.5 s; TRUNCATE is the fallback."""
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    except DBAPIError:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty, migrated database of the ``db_backend`` kind, private to this test."""
    if db_backend == "postgres":
        url = str(request.getfixturevalue("postgres_database_url"))
        _empty_all_tables(url)
        return url
    template: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "steller.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Sandbox settings with a fixed secret key, pointing at this test's database."""
    return _base_settings(database_url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(settings, pool_size=20, max_overflow=20)
    try:
        yield db
    finally:
        # Bounded like the app shutdown (tests/server/api/conftest.py `bounded`): a connection
        # stuck in a hung request fails the test instead of stalling the whole run.
        try:
            async with asyncio.timeout(20):
                await db.dispose()
        except TimeoutError:
            pytest.fail("teardown: database dispose exceeded 20 s", pytrace=False)


# -- factory ------------------------------------------------------------------------------------


@dataclass
class Factory:
    """Builds test data through the domain layer (so the rows are what production writes)."""

    db: Database
    settings: Settings

    async def product(self, sku: str = "AMAZON-US-50", **overrides: Any) -> dict[str, Any]:
        """A product; defaults: Amazon US 50.00 USD fixed, costing us 47.50 USD."""
        values: dict[str, Any] = {
            "sku": sku,
            "vendor_product_id": str(abs(hash(sku)) % 10**6),
            "name": "Amazon US",
            "brand_name": "Amazon",
            "country_code": "US",
            "categories": ["shopping"],
            "face_currency": "USD",
            "denomination_type": "fixed",
            "min_face_minor": 5000,
            "max_face_minor": 5000,
            "cost_min_minor": 4750,
            "cost_max_minor": 4750,
            "cost_currency": "USD",
            "stock": None,
            "available": True,
            "redemption_instructions": "Redeem at amazon.com",
            "terms": None,
            "logo_url": None,
        }
        values.update(overrides)
        async with self.db.write() as conn:
            await catalog.upsert_products(conn, items=[values])
        return values

    async def rates(self, base: str, rates: dict[str, str]) -> None:
        async with self.db.write() as conn:
            await catalog.store_rates(
                conn, base=base, rates={k: Decimal(v) for k, v in rates.items()}
            )

    async def partner(
        self,
        *,
        name: str = "Acme",
        email: str | None = None,
        currency: str = "USD",
        balance: str | None = None,
        approve: dict[str, str] | None = None,
        low_balance_threshold: str = "0",
    ) -> tuple[Partner, Wallet]:
        """A partner (admin-created), optionally funded and with approvals {sku: discount}."""
        partner, wallet = await create_partner(
            self.db,
            name=name,
            email=email or f"{secrets.token_hex(4)}@example.com",
            actor="admin:usr_test",
            settings=self.settings,
            currency=currency,
            low_balance_threshold=Decimal(low_balance_threshold),
        )
        async with self.db.write() as conn:
            if balance is not None:
                await ledger.credit(
                    conn,
                    wallet_id=wallet.id,
                    amount_minor=money.to_minor(Decimal(balance), currency),
                    description="Initial funding",
                    actor="admin:usr_test",
                )
            if approve:
                await catalog.approve_products(
                    conn,
                    partner_id=partner.id,
                    actor="admin:usr_test",
                    items=[
                        catalog.ApprovalItem(sku=s, discount_percent=Decimal(d))
                        for s, d in approve.items()
                    ],
                    order_fee=self.settings.order_fee,
                )
        return partner, wallet


@pytest.fixture
def factory(database: Database, settings: Settings) -> Factory:
    return Factory(database, settings)
