"""Product approvals (with the profit guard) and our copy of the vendor catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from steller_server.db.engine import Database
from steller_server.db.tables import audit_log
from tests.server.api.admin_kit import app, bearer, cheap_password_hashing, staff_token
from tests.server.api.contract_check import assert_conforms

__all__ = ["app", "cheap_password_hashing", "staff_token"]  # fixtures used by this module


@pytest.fixture
async def admin(staff_token: Any) -> dict[str, str]:
    return bearer(await staff_token(role="admin"))


async def _entries(database: Database, action: str) -> list[dict[str, Any]]:
    async with database.read() as conn:
        rows = await conn.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.sequence)
        )
        return [dict(r) for r in rows.mappings()]


async def test_profit_guard_refuses_loss_making_approvals_naming_each_entry(
    api: httpx.AsyncClient, database: Database, factory: Any, admin: dict[str, str]
) -> None:
    await factory.product("AMAZON-US-50")  # 50.00 face, costs 47.50; fee 0.10
    await factory.product(
        "ITUNES-US-25",
        name="iTunes",
        brand_name="Apple",
        min_face_minor=2500,
        max_face_minor=2500,
        cost_min_minor=2400,
        cost_max_minor=2400,
    )
    await factory.product("STEAM-US-50", name="Steam", brand_name="Valve")
    partner, _ = await factory.partner()
    url = f"/api/admin/partners/{partner.id}/products"
    response = await api.put(
        url,
        headers=admin,
        json={
            "products": [
                {"sku": "AMAZON-US-50", "discountPercent": "-5"},  # fine: sells at 52.50
                {"sku": "ITUNES-US-25", "discountPercent": "5"},  # 23.75 < 24.00 + 0.10
                {"sku": "NOPE-US-10", "discountPercent": "0"},  # unknown
                {"sku": "STEAM-US-50", "discountPercent": "5"},  # 47.50 < 47.50 + 0.10
            ]
        },
    )
    assert response.status_code == 422, response.text
    assert_conforms(response, "adminSetPartnerProducts")
    body = response.json()
    assert body["code"] == "price_below_cost"
    assert [e["pointer"] for e in body["errors"]] == [
        "/products/1/discountPercent",
        "/products/2/sku",
        "/products/3/discountPercent",
    ]
    listed = await api.get(url, headers=admin)
    assert listed.json()["data"] == []
    assert await _entries(database, "product.approve") == []


async def test_approve_reprice_replace_and_revoke_are_audited_per_sku(
    api: httpx.AsyncClient, database: Database, factory: Any, admin: dict[str, str]
) -> None:
    await factory.product("AMAZON-US-50")
    await factory.product(
        "STEAM-US-20",
        name="Steam",
        brand_name="Valve",
        min_face_minor=1000,
        max_face_minor=10000,
        denomination_type="range",
        cost_min_minor=900,
        cost_max_minor=9000,
    )
    partner, _ = await factory.partner()
    url = f"/api/admin/partners/{partner.id}/products"
    response = await api.put(
        url,
        headers=admin,
        json={
            "products": [
                {"sku": "AMAZON-US-50", "discountPercent": "-5"},
                {"sku": "STEAM-US-20", "discountPercent": "2.5"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert_conforms(response, "adminSetPartnerProducts")
    by_sku = {p["sku"]: p for p in response.json()["data"]}
    assert by_sku["AMAZON-US-50"]["unitPriceMin"] == "52.50"
    assert by_sku["AMAZON-US-50"]["discountPercent"] == "-5.00"
    assert by_sku["STEAM-US-20"]["unitPriceMin"] == "9.75"
    assert by_sku["STEAM-US-20"]["unitPriceMax"] == "97.50"
    assert by_sku["STEAM-US-20"]["approvedBy"].startswith("admin:usr_")
    approvals = await _entries(database, "product.approve")
    assert [(e["target_type"], e["target_id"], e["before"], e["after"]) for e in approvals] == [
        ("product_approval", f"{partner.id}/AMAZON-US-50", None, {"discountPercent": "-5"}),
        ("product_approval", f"{partner.id}/STEAM-US-20", None, {"discountPercent": "2.5"}),
    ]

    # Same again: converges, nothing audited. Re-pricing one SKU: one entry.
    await api.put(
        url, headers=admin, json={"products": [{"sku": "AMAZON-US-50", "discountPercent": "-5.00"}]}
    )
    assert len(await _entries(database, "product.approve")) == 2
    await api.put(
        url, headers=admin, json={"products": [{"sku": "AMAZON-US-50", "discountPercent": "-7"}]}
    )
    last = (await _entries(database, "product.approve"))[-1]
    assert (last["before"], last["after"]) == ({"discountPercent": "-5"}, {"discountPercent": "-7"})

    replaced = await api.put(
        url,
        headers=admin,
        json={"replace": True, "products": [{"sku": "STEAM-US-20", "discountPercent": "2.5"}]},
    )
    assert [p["sku"] for p in replaced.json()["data"]] == ["STEAM-US-20"]
    (revoke,) = await _entries(database, "product.revoke")
    assert revoke["target_id"] == f"{partner.id}/AMAZON-US-50"
    assert revoke["before"] == {"discountPercent": "-7"}

    gone = await api.delete(f"{url}/STEAM-US-20", headers=admin)
    assert gone.status_code == 204
    assert_conforms(gone, "adminRevokePartnerProduct")
    again = await api.delete(f"{url}/STEAM-US-20", headers=admin)
    assert again.status_code == 404
    assert_conforms(again, "adminRevokePartnerProduct")
    assert len(await _entries(database, "product.revoke")) == 2
    listed = await api.get(url, headers=admin)
    assert_conforms(listed, "adminListPartnerProducts")
    assert listed.json() == {"data": [], "nextCursor": None}


async def test_approvals_list_pages_by_sku_and_rejects_duplicates(
    api: httpx.AsyncClient, factory: Any, admin: dict[str, str]
) -> None:
    for sku in ("A-US-50", "B-US-50", "C-US-50"):
        await factory.product(sku)
    partner, _ = await factory.partner()
    url = f"/api/admin/partners/{partner.id}/products"
    dupes = await api.put(
        url,
        headers=admin,
        json={
            "products": [
                {"sku": "A-US-50", "discountPercent": "0"},
                {"sku": "A-US-50", "discountPercent": "1"},
            ]
        },
    )
    assert dupes.status_code == 400
    assert dupes.json()["errors"][0]["pointer"] == "/products/1/sku"
    await api.put(
        url,
        headers=admin,
        json={
            "products": [
                {"sku": s, "discountPercent": "0"} for s in ("C-US-50", "A-US-50", "B-US-50")
            ]
        },
    )
    first = await api.get(url, params={"limit": 2}, headers=admin)
    assert_conforms(first, "adminListPartnerProducts")
    second = await api.get(
        url, params={"limit": 2, "cursor": first.json()["nextCursor"]}, headers=admin
    )
    skus = [p["sku"] for p in first.json()["data"] + second.json()["data"]]
    assert skus == ["A-US-50", "B-US-50", "C-US-50"]
    assert second.json()["nextCursor"] is None
    bad_cursor = await api.get(url, params={"cursor": "bm9wZQ"}, headers=admin)
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "invalid_cursor"
    other = await api.get("/api/admin/partners/ptn_" + "Q" * 20 + "/products", headers=admin)
    assert other.status_code == 404


async def test_vendor_catalog_with_cost_and_filters(
    api: httpx.AsyncClient, factory: Any, staff_token: Any
) -> None:
    support = bearer(await staff_token(role="support"))
    await factory.product("AMAZON-US-50")
    await factory.product(
        "AMAZON-DE-25",
        name="Amazon DE",
        country_code="DE",
        face_currency="EUR",
        cost_currency="EUR",
        min_face_minor=2500,
        max_face_minor=2500,
        cost_min_minor=2375,
        cost_max_minor=2375,
    )
    await factory.product(
        "ZALANDO-DE-20",
        name="Zalando",
        brand_name="Zalando",
        face_currency="EUR",
        cost_currency="EUR",
        available=False,
    )
    everything = await api.get("/api/admin/products", headers=support)
    assert_conforms(everything, "adminListVendorProducts")
    assert [p["sku"] for p in everything.json()["data"]] == [
        "AMAZON-DE-25",
        "AMAZON-US-50",
        "ZALANDO-DE-20",
    ]
    amazon_de = everything.json()["data"][0]
    assert (amazon_de["costMin"], amazon_de["costCurrency"]) == ("23.75", "EUR")

    async def skus(**params: Any) -> list[str]:
        response = await api.get("/api/admin/products", params=params, headers=support)
        assert response.status_code == 200, response.text
        return [p["sku"] for p in response.json()["data"]]

    assert await skus(q="amazon") == ["AMAZON-DE-25", "AMAZON-US-50"]
    assert await skus(q="zalando") == ["ZALANDO-DE-20"]
    assert await skus(currency="EUR") == ["AMAZON-DE-25", "ZALANDO-DE-20"]
    assert await skus(available="false") == ["ZALANDO-DE-20"]
    assert await skus(currency="EUR", available="true") == ["AMAZON-DE-25"]
    assert await skus(q="100%_") == []
    page = await api.get("/api/admin/products", params={"limit": 2}, headers=support)
    rest = await api.get(
        "/api/admin/products",
        headers=support,
        params={"limit": 2, "cursor": page.json()["nextCursor"]},
    )
    assert [p["sku"] for p in rest.json()["data"]] == ["ZALANDO-DE-20"]
