"""The metrics rollback hook leaves a dropped connection's error alone: after the server ends the
backend (``pg_terminate_backend``), the transaction's rollback must not raise
``PendingRollbackError`` from the hook, which hid the disconnect and turned the documented 503
into a 500 (seen in the e2e run)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from steller_server.api.state import AppState
from steller_server.db.engine import Database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_backend", ["postgres"], indirect=True),
]


async def test_a_terminated_backend_surfaces_as_the_disconnect(database: Database) -> None:
    with pytest.raises(DBAPIError) as caught:
        async with database.read() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    assert caught.value.connection_invalidated
    assert AppState.is_unavailable(None, caught.value)  # type: ignore[arg-type]
