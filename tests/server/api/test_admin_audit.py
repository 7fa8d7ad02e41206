"""The audit log over the admin API: every admin mutation leaves one entry (who, what, before,
after, why, which request), the chain verifies, tampering is found, and the list filters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log
from steller_server.domain.partners import get_partner
from steller_server.domain.serialize import iso
from tests.server.api.admin_kit import (
    app,
    bearer,
    cheap_password_hashing,
    place_order,
    staff_token,
)
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module


async def _newest(database: Database) -> dict[str, Any]:
    async with database.read() as conn:
        row = (
            (await conn.execute(select(audit_log).order_by(audit_log.c.sequence.desc()).limit(1)))
            .mappings()
            .one()
        )
    return dict(row)


async def test_every_admin_mutation_is_audited_and_the_chain_verifies(
    api: httpx.AsyncClient,
    database: Database,
    settings: Any,
    factory: Any,
    staff_token: Any,
) -> None:
    token = await staff_token(role="admin")
    admin = bearer(token)
    await factory.product("AMAZON-US-50")
    await factory.product("STEAM-US-50", name="Steam", brand_name="Valve")

    created = await api.post(
        "/api/admin/partners", headers=admin, json={"name": "Acme", "email": "ops@acme.example"}
    )
    partner_id = created.json()["id"]
    p = f"/api/admin/partners/{partner_id}"
    steps: list[tuple[str, str, str, dict[str, Any] | None, str]] = [
        (
            "POST",
            "/api/admin/users",
            "admin_user.create",
            {
                "email": "sam@steller.test",
                "name": "Sam",
                "role": "support",
                "password": "long-enough-password",
            },
            "admin_user",
        ),
        ("PATCH", p, "partner.update", {"name": "Acme Rewards"}, "partner"),
        ("PATCH", p, "partner.update", {"status": "suspended", "reason": "INC-1"}, "partner"),
        ("PATCH", p, "partner.update", {"status": "active", "reason": "INC-1 closed"}, "partner"),
        ("POST", f"{p}/keys", "key.create", {"role": "developer"}, "api_key"),
        (
            "POST",
            f"{p}/wallet/credit",
            "wallet.credit",
            {"amount": "500.00", "reason": "Wire 1"},
            "wallet",
        ),
        (
            "POST",
            f"{p}/wallet/debit",
            "wallet.debit",
            {"amount": "100.00", "reason": "Chargeback"},
            "wallet",
        ),
        (
            "PUT",
            f"{p}/products",
            "product.approve",
            {"products": [{"sku": "AMAZON-US-50", "discountPercent": "-5"}]},
            "product_approval",
        ),
        (
            "PUT",
            f"{p}/products",
            "product.approve",
            {"products": [{"sku": "STEAM-US-50", "discountPercent": "-5"}]},
            "product_approval",
        ),
        ("DELETE", f"{p}/products/STEAM-US-50", "product.revoke", None, "product_approval"),
    ]
    for method, url, action, body, target_type in steps:
        response = await api.request(method, url, headers=admin, json=body)
        assert response.status_code < 300, (action, response.text)
        entry = await _newest(database)
        assert entry["action"] == action
        assert entry["target_type"] == target_type
        assert entry["actor"].startswith("admin:usr_")
        assert entry["request_id"] == response.headers["x-request-id"]

    key_id = (await api.get(f"{p}/keys", headers=admin)).json()["data"][0]["id"]
    async with database.read() as conn:
        partner = await get_partner(conn, partner_id=partner_id)
    order = await place_order(database, settings, partner, reference_id="o1")
    for method, url, action, body in [
        ("DELETE", f"{p}/keys/{key_id}", "key.revoke", None),
        ("POST", f"/api/admin/orders/{order.id}/cancel", "order.cancel", {"reason": "asked"}),
        ("POST", "/api/admin/logout", "admin.logout", None),
    ]:
        response = await api.request(method, url, headers=admin, json=body)
        assert response.status_code < 300, (action, response.text)
        assert (await _newest(database))["action"] == action

    reader = bearer(await staff_token(role="support"))
    verified = await api.get("/api/admin/audit-log/verify", headers=reader)
    assert verified.status_code == 200
    assert_conforms(verified, "adminVerifyAuditLog")
    async with database.read() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.id, audit_log.c.sequence).order_by(audit_log.c.sequence)
            )
        ).all()
    assert verified.json()["valid"] is True
    assert verified.json()["entriesChecked"] == len(rows)
    assert verified.json()["firstInvalidId"] is None

    listed = await api.get("/api/admin/audit-log", params={"limit": 200}, headers=reader)
    assert_conforms(listed, "adminListAuditLog")
    assert [e["sequence"] for e in listed.json()["data"]] == sorted(
        (r.sequence for r in rows), reverse=True
    )

    # Someone edits history directly in the database: verify names the first bad entry.
    tampered = rows[len(rows) // 2]
    async with database.write() as conn:
        await conn.execute(
            update(audit_log)
            .where(audit_log.c.id == tampered.id)
            .values(reason="nothing to see here")
        )
    broken = await api.get("/api/admin/audit-log/verify", headers=reader)
    assert_conforms(broken, "adminVerifyAuditLog")
    assert broken.json()["valid"] is False
    assert broken.json()["firstInvalidId"] == tampered.id
    assert broken.json()["entriesChecked"] == tampered.sequence


async def test_audit_log_filters_and_pages(
    api: httpx.AsyncClient, database: Database, staff_token: Any, clock: Any
) -> None:
    admin_token = await staff_token(role="admin")
    admin = bearer(admin_token)
    finance = bearer(await staff_token(role="finance"))
    ids = []
    for n in range(3):
        response = await api.post(
            "/api/admin/partners",
            headers=admin,
            json={"name": f"P{n}", "email": f"p{n}@example.com"},
        )
        ids.append(response.json()["id"])
        clock.advance(minutes=10)
    credit = await api.post(
        f"/api/admin/partners/{ids[0]}/wallet/credit",
        headers=finance,
        json={"amount": "10.00", "reason": "Wire"},
    )
    finance_actor = credit.json()["entry"]["actor"]

    async def entries(**params: Any) -> list[dict[str, Any]]:
        response = await api.get("/api/admin/audit-log", params=params, headers=finance)
        assert response.status_code == 200, response.text
        assert_conforms(response, "adminListAuditLog")
        return list(response.json()["data"])

    assert [e["action"] for e in await entries(actor=finance_actor)] == ["wallet.credit"]
    assert [e["targetId"] for e in await entries(action="partner.create")] == ids[::-1]
    assert len(await entries(targetType="wallet")) == 1
    only = await entries(targetType="partner", targetId=ids[1])
    assert [e["targetId"] for e in only] == [ids[1]]
    assert only[0]["after"]["name"] == "P1"
    assert only[0]["before"] is None
    start = await _created_at(database, ids[1])
    window = await entries(**{"from": iso(start), "to": iso(start + timedelta(minutes=10))})
    assert [e["targetId"] for e in window] == [ids[1]]
    assert await entries(action="order.cancel") == []

    first = await api.get(
        "/api/admin/audit-log", params={"limit": 2, "action": "partner.create"}, headers=finance
    )
    cursor = first.json()["nextCursor"]
    assert cursor is not None
    rest = await api.get(
        "/api/admin/audit-log",
        headers=finance,
        params={"limit": 2, "action": "partner.create", "cursor": cursor},
    )
    assert [e["targetId"] for e in first.json()["data"] + rest.json()["data"]] == ids[::-1]
    assert rest.json()["nextCursor"] is None

    bad = await api.get("/api/admin/audit-log", params={"targetType": "spaceship"}, headers=finance)
    assert bad.status_code == 400
    assert_conforms(bad, "adminListAuditLog")
    bad_cursor = await api.get(
        "/api/admin/audit-log", params={"cursor": "c2VxOmFiYw"}, headers=finance
    )
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "invalid_cursor"


async def _created_at(database: Database, partner_id: str) -> Any:
    async with database.read() as conn:
        return await conn.scalar(
            select(audit_log.c.created_at).where(
                audit_log.c.action == "partner.create", audit_log.c.target_id == partner_id
            )
        )
