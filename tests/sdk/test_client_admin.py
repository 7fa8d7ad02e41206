"""StellerAdmin / AsyncStellerAdmin (steller/admin/_client.py): bearer token from argument or
environment, login returning a client holding the token, logout, closing, nested raw responses."""

from __future__ import annotations

import json

import httpx
import pytest

from steller import APIResponse, AuthenticationError, StellerError
from steller.admin import AsyncStellerAdmin, StellerAdmin
from steller.models import AdminSession, Wallet

BASE_URL = "https://api.steller.test"
TOKEN = "tok_admin_session_secret"
PTN = "ptn_4Fh8Kq2Lm9Np3Rs7"
SESSION = {
    "token": TOKEN,
    "expiresAt": "2026-11-03T22:00:00Z",
    "user": {
        "id": "usr_1Ab2Cd3Ef4Gh5Jk6",
        "email": "ops@steller.example",
        "name": "Ops",
        "role": "admin",
        "disabled": False,
        "createdAt": "2026-01-01T00:00:00Z",
    },
}
WALLET = {
    "id": "wal_5Jt8RbN2cV6yQm1Z",
    "partnerId": PTN,
    "currency": "USD",
    "balance": "500.00",
    "lowBalanceThreshold": "50.00",
    "averageDailySpend": "0.00",
    "projectedRunOutDate": None,
    "updatedAt": "2026-11-03T10:00:00Z",
}


class AdminServer:
    def __init__(self, *, login_status: int = 200) -> None:
        self.login_status = login_status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.url.path == "/api/admin/login":
            if self.login_status != 200:
                return httpx.Response(
                    self.login_status,
                    json={"status": 401, "code": "invalid_credentials", "title": "Unauthorized"},
                )
            return httpx.Response(200, json=SESSION)
        if request.url.path == "/api/admin/logout":
            return httpx.Response(204)
        return httpx.Response(200, json=WALLET)


@pytest.fixture(autouse=True)
def no_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STELLER_ADMIN_TOKEN", raising=False)


def test_missing_token_is_a_clear_error():
    with pytest.raises(StellerError, match="STELLER_ADMIN_TOKEN"):
        StellerAdmin(base_url=BASE_URL)


def test_token_from_the_environment_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STELLER_ADMIN_TOKEN", "tok_from_env")
    server = AdminServer()
    with StellerAdmin(base_url=BASE_URL, transport=httpx.MockTransport(server)) as admin:
        admin.partners.wallet.get(PTN)
    assert server.requests[0].headers["authorization"] == "Bearer tok_from_env"


def test_login_posts_credentials_without_auth_then_uses_the_token():
    server = AdminServer()
    admin = StellerAdmin.login(
        "ops@steller.example",
        "correct horse",
        base_url=BASE_URL,
        transport=httpx.MockTransport(server),
    )
    with admin:
        assert isinstance(admin.session, AdminSession)
        assert admin.session.user.role == "admin"
        wallet = admin.partners.wallet.get(PTN)
        admin.logout()
    assert isinstance(wallet, Wallet)
    login, get, logout = server.requests
    assert login.url.path == "/api/admin/login"
    assert "authorization" not in login.headers
    assert json.loads(login.content) == {
        "email": "ops@steller.example",
        "password": "correct horse",
    }
    assert get.headers["authorization"] == f"Bearer {TOKEN}"
    assert logout.url.path == "/api/admin/logout"
    assert logout.headers["authorization"] == f"Bearer {TOKEN}"
    assert admin.is_closed


def test_failed_login_raises_the_authentication_error():
    server = AdminServer(login_status=401)
    with pytest.raises(AuthenticationError) as caught:
        StellerAdmin.login(
            "ops@steller.example", "wrong", base_url=BASE_URL, transport=httpx.MockTransport(server)
        )
    assert caught.value.code == "invalid_credentials"


def test_login_never_closes_a_passed_in_client():
    http = httpx.Client(transport=httpx.MockTransport(AdminServer()))
    with StellerAdmin.login("ops@steller.example", "pw", base_url=BASE_URL, http_client=http):
        pass
    assert not http.is_closed
    http.close()


async def test_async_login_and_calls():
    server = AdminServer()
    admin = await AsyncStellerAdmin.login(
        "ops@steller.example", "pw", base_url=BASE_URL, transport=httpx.MockTransport(server)
    )
    async with admin:
        await admin.partners.wallet.get(PTN)
        await admin.logout()
    assert server.requests[1].headers["authorization"] == f"Bearer {TOKEN}"
    assert admin.is_closed


def test_with_options_copy_keeps_the_session_and_shares_the_pool():
    server = AdminServer()
    admin = StellerAdmin.login(
        "ops@x", "pw", base_url=BASE_URL, transport=httpx.MockTransport(server)
    )
    copy = admin.with_options(timeout=5)
    assert copy.session is admin.session
    assert copy.http_client is admin.http_client
    copy.close()
    assert not admin.is_closed
    other = admin.with_options(bearer_token="tok_other")
    assert other.session is None
    other.partners.wallet.get(PTN)
    assert server.requests[-1].headers["authorization"] == "Bearer tok_other"
    admin.close()
    assert admin.is_closed


def test_nested_resources_have_raw_responses():
    server = AdminServer()
    with StellerAdmin(
        bearer_token=TOKEN, base_url=BASE_URL, transport=httpx.MockTransport(server)
    ) as admin:
        raw = admin.partners.with_raw_response.wallet.get(PTN)
        same = admin.partners.wallet.with_raw_response.get(PTN)
    assert isinstance(raw, APIResponse)
    assert raw.parse() == same.parse()
    assert raw.json()["balance"] == "500.00"
