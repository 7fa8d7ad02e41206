"""The Alembic migrations build exactly the schema the code describes."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from steller_server.db import migrate
from steller_server.db.tables import metadata
from steller_server.settings import Settings


def test_migrated_schema_matches_the_tables_module(settings: Settings) -> None:
    engine = create_engine(migrate.sync_url(settings.database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes (lower(email)): SQLAlchemy and alembic
            # warn and skip them there; PostgreSQL compares them.
            warnings.simplefilter("ignore")
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
    assert migrate.current_revision(settings) == migrate.head_revision()


def test_upgrade_is_idempotent(settings: Settings) -> None:
    migrate.upgrade(settings)
    assert migrate.current_revision(settings) == migrate.head_revision()
