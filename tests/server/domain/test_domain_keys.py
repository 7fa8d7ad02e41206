"""API keys: authentication, revocation, rotation with grace, roles and IP allowlists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from steller_server.db.engine import Database
from steller_server.domain import keys
from steller_server.domain.clock import utcnow
from steller_server.domain.errors import InvalidState, NotFound, ValidationFailed
from steller_server.settings import Settings


async def test_a_created_key_authenticates_until_revoked(
    database: Database, factory: Any, settings: Settings
) -> None:
    partner, _ = await factory.partner()
    secret = settings.effective_secret_key
    async with database.write() as conn:
        created = await keys.create_key(
            conn, partner_id=partner.id, environment="sandbox", role="ordering", secret_key=secret
        )
    assert created.raw.startswith("stlr_test_")
    assert created.key.prefix == created.raw[:13]
    assert created.key.last4 == created.raw[-4:]
    async with database.read() as conn:
        auth = await keys.authenticate(conn, raw_key=created.raw, secret_key=secret)
        assert await keys.authenticate(conn, raw_key=created.raw + "x", secret_key=secret) is None
        assert await keys.authenticate(conn, raw_key="garbage", secret_key=secret) is None
    assert auth is not None
    assert (auth.partner.id, auth.key.role) == (partner.id, "ordering")

    async with database.write() as conn:
        revoked = await keys.revoke_key(conn, key_id=created.key.id, partner_id=partner.id)
        assert revoked.status_at(utcnow()) == "revoked"
        with pytest.raises(InvalidState):
            await keys.revoke_key(conn, key_id=created.key.id, partner_id=partner.id)
        with pytest.raises(NotFound):
            await keys.revoke_key(conn, key_id=created.key.id, partner_id="ptn_other")
    async with database.read() as conn:
        assert await keys.authenticate(conn, raw_key=created.raw, secret_key=secret) is None


async def test_rotation_keeps_the_old_key_for_the_grace_period(
    database: Database, factory: Any, settings: Settings
) -> None:
    partner, _ = await factory.partner()
    secret = settings.effective_secret_key
    now = utcnow()
    async with database.write() as conn:
        old = await keys.create_key(
            conn,
            partner_id=partner.id,
            environment="sandbox",
            role="finance",
            secret_key=secret,
            ip_allowlist=["10.0.0.0/8"],
            now=now,
        )
        new = await keys.rotate_key(
            conn,
            key_id=old.key.id,
            partner_id=partner.id,
            secret_key=secret,
            grace_period_hours=24,
            now=now,
        )
    assert new.previous_key_expires_at == now + timedelta(hours=24)
    assert (new.key.role, new.key.ip_allowlist) == ("finance", ["10.0.0.0/8"])
    async with database.read() as conn:
        during = await keys.authenticate(
            conn, raw_key=old.raw, secret_key=secret, now=now + timedelta(hours=23)
        )
        after = await keys.authenticate(
            conn, raw_key=old.raw, secret_key=secret, now=now + timedelta(hours=24, seconds=1)
        )
        fresh = await keys.authenticate(
            conn, raw_key=new.raw, secret_key=secret, now=now + timedelta(days=30)
        )
    assert during is not None
    assert during.key.status_at(now + timedelta(hours=23)) == "expiring"
    assert after is None
    assert fresh is not None


def test_roles_and_allowlists() -> None:
    assert keys.role_allows("developer", keys.Capability.KEYS)
    assert keys.role_allows("ordering", keys.Capability.ORDERS_WRITE)
    assert not keys.role_allows("ordering", keys.Capability.FINANCE_READ)
    assert keys.role_allows("finance", keys.Capability.FINANCE_READ)
    assert not keys.role_allows("finance", keys.Capability.ORDERS_WRITE)
    assert not keys.role_allows("unknown", keys.Capability.CATALOG)


async def test_ip_allowlist_is_validated_and_enforced(
    database: Database, factory: Any, settings: Settings
) -> None:
    partner, _ = await factory.partner()
    async with database.write() as conn:
        with pytest.raises(ValidationFailed):
            await keys.create_key(
                conn,
                partner_id=partner.id,
                environment="sandbox",
                role="developer",
                secret_key=settings.effective_secret_key,
                ip_allowlist=["not-an-ip"],
            )
        created = await keys.create_key(
            conn,
            partner_id=partner.id,
            environment="sandbox",
            role="developer",
            secret_key=settings.effective_secret_key,
            ip_allowlist=["203.0.113.0/24", "2001:db8::1"],
        )
    assert keys.ip_allowed(created.key, "203.0.113.7")
    assert keys.ip_allowed(created.key, "2001:db8::1")
    assert not keys.ip_allowed(created.key, "198.51.100.1")
    assert not keys.ip_allowed(created.key, None)
