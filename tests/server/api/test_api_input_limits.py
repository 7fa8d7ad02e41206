"""Input PostgreSQL cannot store is refused up front with a 400, not a 500 from the database
(both found by the stateful fuzzing of the e2e deployment on ``PATCH /api/partner/me``): U+0000
anywhere in a request (body string or key, query value, path id), and an amount beyond the bigint
of minor units."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server.api.partner_support import onboard


async def test_a_nul_in_the_body_is_a_validation_error(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    _, _, headers = await onboard(factory, partner_key, approve={})
    response = await api.patch("/api/partner/me", headers=headers, json={"name": "Ac\u0000me"})
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert {"pointer": "/name", "message": "must not contain the character U+0000"} in problem[
        "errors"
    ]


async def test_a_nul_in_a_query_value_or_a_path_id_is_refused(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    _, _, headers = await onboard(factory, partner_key, approve={})
    query = await api.get("/api/brand/getCatalog", params={"sku": "A\u0000"}, headers=headers)
    assert query.status_code == 400
    assert query.json()["errors"][0]["pointer"] == "/query/sku"
    path = await api.get("/api/orders/ord_%00", headers=headers)
    assert path.status_code == 404


async def test_a_low_balance_threshold_beyond_any_amount_is_a_validation_error(
    api: httpx.AsyncClient, factory: Any, partner_key: Any
) -> None:
    """Stored in minor units as a bigint: a threshold past it was a 500 from PostgreSQL."""
    _, _, headers = await onboard(factory, partner_key, approve={})
    response = await api.patch(
        "/api/partner/me",
        headers=headers,
        json={"lowBalanceThreshold": "07380673715019596386785.360"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"pointer": "/lowBalanceThreshold", "message": "amount too large"}
    ]
