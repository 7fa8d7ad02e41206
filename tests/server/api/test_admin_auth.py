"""Admin login and logout: hashed passwords, expiring tokens, throttled guessing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from steller_server.db.engine import Database
from steller_server.db.tables import admin_sessions, admin_users, audit_log, idempotency_keys
from steller_server.domain import admins
from steller_server.domain.serialize import iso
from tests.server.api.admin_kit import app, bearer, cheap_password_hashing
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing"]  # fixtures used by this module

EMAIL = "ana.ops@steller.test"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
async def ana(database: Database) -> admins.AdminUser:
    async with database.write() as conn:
        return await admins.create_user(
            conn, email=EMAIL, name="Ana Ops", role="admin", password=PASSWORD
        )


async def _login(
    api: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    return await api.post(
        "/api/admin/login", json={"email": email, "password": password}, headers=headers
    )


async def test_login_returns_an_expiring_token_stored_only_as_a_hash(
    api: httpx.AsyncClient, database: Database, ana: admins.AdminUser, clock: Any, settings: Any
) -> None:
    response = await _login(api)
    assert response.status_code == 200, response.text
    assert_conforms(response, "adminLogin")
    body = response.json()
    assert body["user"] == {**ana.public(), "createdAt": body["user"]["createdAt"]}
    ttl = timedelta(hours=settings.admin_token_ttl_hours)
    assert body["expiresAt"] == iso(clock.now + ttl)
    async with database.read() as conn:
        stored = (await conn.execute(select(admin_sessions.c.token_hash))).scalars().all()
        password_hash = await conn.scalar(select(admin_users.c.password_hash))
        login_audit = (
            (await conn.execute(select(audit_log).where(audit_log.c.action == "admin.login")))
            .mappings()
            .one()
        )
    assert body["token"] not in stored
    assert len(stored) == 1
    assert PASSWORD not in password_hash
    assert password_hash.startswith("$argon2")
    assert login_audit["actor"] == f"admin:{ana.id}"
    assert login_audit["target_type"] == "admin_user"
    assert login_audit["target_id"] == ana.id
    assert login_audit["request_id"] == response.headers["x-request-id"]
    # The token works on an admin route.
    me = await api.get("/api/admin/audit-log", headers=bearer(body["token"]))
    assert me.status_code == 200


async def test_wrong_password_unknown_email_and_disabled_user_get_the_same_401(
    api: httpx.AsyncClient, database: Database, ana: admins.AdminUser
) -> None:
    wrong = await _login(api, password="not-the-password")
    unknown = await _login(api, email="nobody@steller.test")
    async with database.write() as conn:
        await conn.execute(admin_users.update().values(disabled=True))
    disabled = await _login(api)
    for response in (wrong, unknown, disabled):
        assert response.status_code == 401
        assert_conforms(response, "adminLogin")
        assert response.json()["code"] == "invalid_credentials"
        assert response.json()["detail"] == wrong.json()["detail"]
    async with database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(admin_sessions)) == 0
        assert (
            await conn.scalar(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.action == "admin.login")
            )
            == 0
        )


async def test_eleventh_attempt_in_a_minute_is_throttled(
    api: httpx.AsyncClient, ana: admins.AdminUser
) -> None:
    for _ in range(10):
        response = await _login(api, password="guess")
        assert response.status_code == 401
    throttled = await _login(api)  # even the right password: the address is throttled
    assert throttled.status_code == 429
    assert_conforms(throttled, "adminLogin")
    assert throttled.json()["code"] == "rate_limited"
    assert int(throttled.headers["retry-after"]) >= 1
    assert throttled.headers["ratelimit-policy"] == '"login";q=10;w=60'


async def test_token_expires_after_its_lifetime(
    api: httpx.AsyncClient, ana: admins.AdminUser, clock: Any, settings: Any
) -> None:
    token = (await _login(api)).json()["token"]
    clock.advance(hours=settings.admin_token_ttl_hours, seconds=-1)
    assert (await api.get("/api/admin/audit-log/verify", headers=bearer(token))).status_code == 200
    clock.advance(seconds=1)
    expired = await api.get("/api/admin/audit-log/verify", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json()["code"] == "invalid_token"


async def test_logout_kills_the_token_and_is_audited(
    api: httpx.AsyncClient, database: Database, ana: admins.AdminUser
) -> None:
    token = (await _login(api)).json()["token"]
    other = (await _login(api)).json()["token"]
    response = await api.post("/api/admin/logout", headers=bearer(token))
    assert response.status_code == 204
    assert_conforms(response, "adminLogout")
    after = await api.get("/api/admin/audit-log", headers=bearer(token))
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_token"
    again = await api.post("/api/admin/logout", headers=bearer(token))
    assert again.status_code == 401
    # Only that session ended.
    assert (await api.get("/api/admin/audit-log", headers=bearer(other))).status_code == 200
    async with database.read() as conn:
        entry = (
            (await conn.execute(select(audit_log).where(audit_log.c.action == "admin.logout")))
            .mappings()
            .one()
        )
    assert entry["actor"] == f"admin:{ana.id}"
    assert entry["target_id"] == ana.id


async def test_login_is_never_stored_or_replayed_for_an_idempotency_key(
    api: httpx.AsyncClient, database: Database, ana: admins.AdminUser
) -> None:
    first = await _login(api, **{"Idempotency-Key": "login-1"})
    second = await _login(api, **{"Idempotency-Key": "login-1"})
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert first.json()["token"] != second.json()["token"]
    async with database.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(idempotency_keys)) == 0


async def test_missing_and_malformed_bearer_tokens_are_401(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/admin/audit-log")
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthenticated"
    bogus = await api.get("/api/admin/audit-log", headers=bearer("x" * 43))
    assert bogus.status_code == 401
    assert bogus.json()["code"] == "invalid_token"
    assert_conforms(bogus, "adminListAuditLog")
