"""The per-process key cache: changes made in this process apply to the very next request, and a
cached key costs no statement (the cache itself, its TTL and its generations:
tests/server/domain/test_domain_auth_cache.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from steller_server.db.engine import Database
from steller_server.domain import keys, partners
from steller_server.settings import Settings
from tests.server.api import conftest
from tests.server.api.partner_support import onboard


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)


async def _developer(factory: Any, partner_key: Any) -> tuple[Any, dict[str, str]]:
    partner, _, developer = await onboard(factory, partner_key, balance="100.00", approve={})
    return partner, developer


async def test_a_cached_key_costs_no_statement_and_is_touched_once_a_minute(
    api: httpx.AsyncClient,
    factory: Any,
    partner_key: Any,
    statements: list[str],
    clock: conftest.TestClock,
) -> None:
    _, developer = await _developer(factory, partner_key)

    statements.clear()
    for _ in range(3):
        assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200
    lookups = [s for s in statements if s.startswith("SELECT") and "api_keys" in s]
    touches = [s for s in statements if s.startswith("UPDATE api_keys")]
    assert (len(lookups), len(touches)) == (1, 1)

    statements.clear()
    clock.advance(seconds=keys.TOUCH_INTERVAL.total_seconds() + 1)
    for _ in range(2):
        assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200
    assert len([s for s in statements if s.startswith("UPDATE api_keys")]) == 1


async def test_revocation_applies_to_the_next_request(
    api: httpx.AsyncClient,
    database: Database,
    factory: Any,
    partner_key: Any,
    settings: Settings,
) -> None:
    _, developer = await _developer(factory, partner_key)
    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200

    async with database.write() as conn:
        found = await keys.authenticate(
            conn, raw_key=developer["x-api-key"], secret_key=settings.effective_secret_key
        )
        assert found is not None
        await keys.revoke_key(conn, key_id=found.key.id)

    response = await api.get("/api/wallet/me", headers=developer)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


async def test_rotation_without_grace_applies_to_the_next_request(
    api: httpx.AsyncClient,
    database: Database,
    factory: Any,
    partner_key: Any,
    settings: Settings,
) -> None:
    partner, developer = await _developer(factory, partner_key)
    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200

    async with database.write() as conn:
        found = await keys.authenticate(
            conn, raw_key=developer["x-api-key"], secret_key=settings.effective_secret_key
        )
        assert found is not None
        created = await keys.rotate_key(
            conn,
            key_id=found.key.id,
            partner_id=partner.id,
            secret_key=settings.effective_secret_key,
            grace_period_hours=0,
        )

    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 401
    fresh = {"x-api-key": created.raw}
    assert (await api.get("/api/wallet/me", headers=fresh)).status_code == 200


async def test_a_cached_key_expires_by_the_request_clock(
    api: httpx.AsyncClient,
    database: Database,
    factory: Any,
    partner_key: Any,
    settings: Settings,
    clock: conftest.TestClock,
) -> None:
    partner, developer = await _developer(factory, partner_key)
    async with database.write() as conn:
        found = await keys.authenticate(
            conn, raw_key=developer["x-api-key"], secret_key=settings.effective_secret_key
        )
        assert found is not None
        await keys.rotate_key(
            conn,
            key_id=found.key.id,
            partner_id=partner.id,
            secret_key=settings.effective_secret_key,
            grace_period_hours=1,
            now=clock(),
        )
    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200

    clock.advance(hours=1, seconds=1)  # no write: only the request's clock moved
    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 401


async def test_suspension_and_reinstatement_apply_to_the_next_request(
    api: httpx.AsyncClient, database: Database, factory: Any, partner_key: Any
) -> None:
    partner, developer = await _developer(factory, partner_key)
    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200

    await partners.update_partner(
        database, partner_id=partner.id, actor="admin:usr_1", status="suspended", reason="test"
    )
    response = await api.get("/api/wallet/me", headers=developer)
    assert response.status_code == 403
    assert response.json()["code"] == "partner_suspended"

    await partners.update_partner(
        database, partner_id=partner.id, actor="admin:usr_1", status="active", reason="paid"
    )
    assert (await api.get("/api/wallet/me", headers=developer)).status_code == 200
