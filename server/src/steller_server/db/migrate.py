"""Run the Alembic migrations from code (``steller-server migrate`` calls :func:`upgrade`).

Migrations use a *sync* engine (pysqlite / psycopg) built from the same URL as the server.
The configuration is built in code; the scripts live in ``steller_server/db/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from steller_server.settings import Settings, normalise_database_url

__all__ = ["alembic_config", "current_revision", "head_revision", "sync_url", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def sync_url(database_url: str) -> str:
    """The sync-driver twin of an async database URL."""
    url = normalise_database_url(database_url)
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite+pysqlite://" + url[len("sqlite+aiosqlite://") :]
    return url  # psycopg 3 is both sync and async


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _sync_engine(settings: Settings) -> Engine:
    return create_engine(sync_url(settings.database_url), poolclass=NullPool)


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database at ``settings.database_url`` up to ``revision`` (default: latest)."""
    engine = _sync_engine(settings)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at (None when never migrated)."""
    engine = _sync_engine(settings)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
