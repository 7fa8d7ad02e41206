"""Staff accounts: created by admins only, passwords never echoed or audited, oldest first."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log
from tests.server.api.admin_kit import app, bearer, cheap_password_hashing, staff_token
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module

PASSWORD = "Tr4nsfer-Season-2026!"


async def test_create_user_then_log_in_with_it(
    api: httpx.AsyncClient, database: Database, staff_token: Any, clock: Any
) -> None:
    admin = bearer(await staff_token(role="admin"))
    body = {
        "email": "felix.finance@steller.test",
        "name": "Felix Finance",
        "role": "finance",
        "password": PASSWORD,
    }
    response = await api.post("/api/admin/users", headers=admin, json=body)
    assert response.status_code == 201, response.text
    assert_conforms(response, "adminCreateUser")
    user = response.json()
    assert (user["email"], user["role"], user["disabled"]) == (body["email"], "finance", False)
    assert "password" not in response.text
    async with database.read() as conn:
        (entry,) = (
            (await conn.execute(select(audit_log).where(audit_log.c.action == "admin_user.create")))
            .mappings()
            .all()
        )
    assert entry["target_id"] == user["id"]
    assert entry["after"]["email"] == body["email"]
    assert PASSWORD not in str(entry["after"])
    assert entry["request_id"] == response.headers["x-request-id"]

    login = await api.post(
        "/api/admin/login", json={"email": "FELIX.finance@steller.test", "password": PASSWORD}
    )
    assert login.status_code == 200
    assert login.json()["user"]["id"] == user["id"]
    finance = bearer(login.json()["token"])
    refused = await api.get("/api/admin/users", headers=finance)
    assert refused.status_code == 403

    taken = await api.post("/api/admin/users", headers=admin, json={**body, "name": "Again"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "email_taken"
    assert_conforms(taken, "adminCreateUser")
    short = await api.post(
        "/api/admin/users",
        headers=admin,
        json={**body, "email": "x@steller.test", "password": "short"},
    )
    assert short.status_code == 400
    assert short.json()["errors"][0]["pointer"] == "/password"
    bad_role = await api.post(
        "/api/admin/users", headers=admin, json={**body, "email": "y@steller.test", "role": "root"}
    )
    assert bad_role.status_code == 400


async def test_users_are_listed_oldest_first_in_pages(
    api: httpx.AsyncClient, staff_token: Any, clock: Any
) -> None:
    admin = bearer(await staff_token(role="admin"))
    for n in range(3):
        clock.advance(minutes=1)
        await api.post(
            "/api/admin/users",
            headers=admin,
            json={
                "email": f"u{n}@steller.test",
                "name": f"U{n}",
                "role": "support",
                "password": PASSWORD,
            },
        )
    first = await api.get("/api/admin/users", params={"limit": 2}, headers=admin)
    assert_conforms(first, "adminListUsers")
    rest = await api.get(
        "/api/admin/users", headers=admin, params={"limit": 2, "cursor": first.json()["nextCursor"]}
    )
    assert_conforms(rest, "adminListUsers")
    emails = [u["email"] for u in first.json()["data"] + rest.json()["data"]]
    assert emails[1:] == ["u0@steller.test", "u1@steller.test", "u2@steller.test"]
    assert emails[0].startswith("admin-")
    assert rest.json()["nextCursor"] is None
