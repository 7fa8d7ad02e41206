"""Basic auth bound to environments, 401/403 shapes, and Bamboo's inconsistent path spellings."""

from __future__ import annotations

import base64

import httpx
import pytest
from starlette.applications import Starlette

BASE_URL = "http://bamboo.test"
ACCOUNTS = "/api/integration/v1.0/accounts"


def _raw(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"steller-sandbox:wrong").decode(),
        "Basic " + base64.b64encode(b"nobody:sandbox-secret").decode(),
    ],
)
async def test_missing_malformed_or_wrong_credentials_get_401(app, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    async with _raw(app) as http:
        response = await http.get(ACCOUNTS, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_valid_credentials_without_access_get_403_with_error_field(app):
    async with _raw(app) as http:
        response = await http.get(ACCOUNTS, auth=("steller-forbidden", "forbidden-secret"))
    assert response.status_code == 403
    body = response.json()
    assert isinstance(body["error"], str)
    assert "message" not in body


async def test_each_credential_sees_only_its_environments_accounts(app):
    async with _raw(app) as http:
        sandbox = await http.get(ACCOUNTS, auth=("steller-sandbox", "sandbox-secret"))
        production = await http.get(ACCOUNTS, auth=("steller-production", "production-secret"))
    sandbox_accounts = sandbox.json()["accounts"]
    production_accounts = production.json()["accounts"]
    assert {a["sandboxMode"] for a in sandbox_accounts} == {True}
    assert {a["sandboxMode"] for a in production_accounts} == {False}
    assert {a["id"] for a in sandbox_accounts}.isdisjoint({a["id"] for a in production_accounts})


async def test_accounts_cover_currencies_inactive_and_tiny_balance(client):
    accounts = (await client.get(ACCOUNTS)).json(parse_float=str)["accounts"]
    assert {"USD", "EUR", "GBP", "AED"} <= {a["currency"] for a in accounts}
    assert any(not a["isActive"] for a in accounts)
    assert any(float(a["balance"]) < 10 and a["isActive"] for a in accounts)
    assert {"id", "currency", "balance", "isActive", "sandboxMode"} == set(accounts[0])


@pytest.mark.parametrize(
    "path",
    [
        "/api/Integration/v1/transactions?startDate=2024-05-16&endDate=2024-05-16",
        "/api/integration/v1.0/transactions?startDate=2024-05-16&endDate=2024-05-16",
        "/API/INTEGRATION/V1/ORDERS?startDate=2024-05-16&endDate=2024-05-16",
        "/api/Integration/v1.0/orders?startDate=2024-05-16&endDate=2024-05-16",
        "/api/Integration/v1/notification",
        "/api/integration/v1.0/Notification",
        "/api/Integration/V2.0/Catalog",
        "/api/integration/v1.0/exchange-rates/",
    ],
)
async def test_paths_match_case_insensitively_with_v1_or_v1_0(client, path):
    response = await client.get(path)
    assert response.status_code == 200, response.text
