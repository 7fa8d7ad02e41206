"""Database layer: SQLAlchemy Core tables, the engine/Database wrapper and Alembic migrations."""

from steller_server.db.engine import Database, create_engine
from steller_server.db.tables import metadata

__all__ = ["Database", "create_engine", "metadata"]
