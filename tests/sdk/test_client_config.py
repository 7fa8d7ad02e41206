"""Steller / AsyncSteller construction (steller/_client.py): credentials and base URL from
arguments or the environment, who closes the HTTP client, with_options copies, the version
header, strict vs tolerant parsing, and signup without a key."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

import steller
from steller import (
    API_VERSION,
    APIResponseValidationError,
    AsyncSteller,
    Steller,
    StellerError,
)
from steller._config import LIVE_BASE_URL, SANDBOX_BASE_URL
from steller.models import SignupResponse, Wallet

WALLET = {
    "id": "wal_5Jt8RbN2cV6yQm1Z",
    "partnerId": "ptn_4Fh8Kq2Lm9Np3Rs7",
    "currency": "USD",
    "balance": "447.50",
    "lowBalanceThreshold": "50.00",
    "averageDailySpend": "12.3400",
    "projectedRunOutDate": None,
    "updatedAt": "2026-11-03T10:00:00Z",
}


class Recorder:
    def __init__(self, body: Any = None, status: int = 200) -> None:
        self.body = WALLET if body is None else body
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("STELLER_API_KEY", "STELLER_BASE_URL", "STELLER_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_missing_api_key_is_a_clear_error_at_construction(clean_env):
    with pytest.raises(StellerError, match="STELLER_API_KEY"):
        Steller()
    with pytest.raises(StellerError, match="api_key="):
        AsyncSteller()


def test_api_key_and_base_url_come_from_the_environment(clean_env):
    clean_env.setenv("STELLER_API_KEY", "stlr_test_from_env")
    clean_env.setenv("STELLER_BASE_URL", "https://env.steller.test/v")
    recorder = Recorder()
    with Steller(transport=httpx.MockTransport(recorder)) as client:
        client.wallet.get()
    request = recorder.requests[0]
    assert request.headers["x-api-key"] == "stlr_test_from_env"
    assert str(request.url) == "https://env.steller.test/v/api/wallet/me"


def test_arguments_win_over_the_environment(clean_env):
    clean_env.setenv("STELLER_API_KEY", "stlr_test_from_env")
    clean_env.setenv("STELLER_BASE_URL", "https://env.steller.test")
    recorder = Recorder()
    with Steller(
        api_key="stlr_test_arg",
        base_url="https://arg.steller.test",
        transport=httpx.MockTransport(recorder),
    ) as client:
        client.wallet.get()
    assert recorder.requests[0].headers["x-api-key"] == "stlr_test_arg"
    assert recorder.requests[0].url.host == "arg.steller.test"


def test_environment_shortcut_and_default(clean_env):
    assert str(Steller(api_key="k", environment="sandbox").base_url).rstrip("/") == SANDBOX_BASE_URL
    assert str(Steller(api_key="k", environment="live").base_url).rstrip("/") == LIVE_BASE_URL
    assert str(Steller(api_key="k").base_url).rstrip("/") == LIVE_BASE_URL
    with pytest.raises(ValueError, match="either"):
        Steller(api_key="k", environment="sandbox", base_url="http://x")
    with pytest.raises(ValueError, match="unknown environment"):
        Steller(api_key="k", environment="staging")  # type: ignore[arg-type]


def test_a_passed_in_client_lends_its_base_url(clean_env):
    """So ``Steller(api_key=..., http_client=TestClient(app))`` talks to the app."""
    recorder = Recorder()
    http = httpx.Client(base_url="http://testserver", transport=httpx.MockTransport(recorder))
    client = Steller(api_key="k", http_client=http)
    client.wallet.get()
    assert str(recorder.requests[0].url) == "http://testserver/api/wallet/me"
    http.close()


def test_never_closes_an_http_client_it_did_not_create(clean_env):
    http = httpx.Client(transport=httpx.MockTransport(Recorder()))
    with Steller(api_key="k", base_url="http://x", http_client=http) as client:
        client.wallet.get()
    assert not http.is_closed
    client.close()
    assert not http.is_closed
    http.close()


async def test_async_never_closes_an_http_client_it_did_not_create(clean_env):
    http = httpx.AsyncClient(transport=httpx.MockTransport(Recorder()))
    async with AsyncSteller(api_key="k", base_url="http://x", http_client=http) as client:
        wallet = await client.wallet.get()
    assert isinstance(wallet, Wallet)
    assert not http.is_closed
    await http.aclose()


def test_closes_the_http_client_it_created(clean_env):
    with Steller(api_key="k", base_url="http://x", transport=httpx.MockTransport(Recorder())) as c:
        assert not c.is_closed
    assert c.is_closed


async def test_async_closes_the_http_client_it_created(clean_env):
    async with AsyncSteller(
        api_key="k", base_url="http://x", transport=httpx.MockTransport(Recorder())
    ) as client:
        pass
    assert client.is_closed


def test_with_options_is_a_cheap_copy_sharing_the_pool(clean_env):
    recorder = Recorder()
    client = Steller(api_key="k1", base_url="http://x", transport=httpx.MockTransport(recorder))
    copy = client.with_options(api_key="k2", timeout=3, max_retries=0)
    assert copy.http_client is client.http_client
    assert copy.timeout == httpx.Timeout(3)
    assert copy.retry_policy.max_retries == 0
    assert client.retry_policy.max_retries == 2
    copy.wallet.get()
    client.wallet.get()
    assert [r.headers["x-api-key"] for r in recorder.requests] == ["k2", "k1"]
    copy.close()  # a copy never closes the shared client
    assert not client.is_closed
    client.close()
    assert copy.is_closed


def test_with_options_can_switch_environment(clean_env):
    client = Steller(api_key="k", environment="live")
    assert str(client.with_options(environment="sandbox").base_url).rstrip("/") == SANDBOX_BASE_URL
    with pytest.raises(ValueError, match="either"):
        client.with_options(environment="sandbox", base_url="http://y")
    client.close()


def test_steller_version_defaults_to_the_sdk_contract_and_can_be_dropped(clean_env):
    recorder = Recorder()
    transport = httpx.MockTransport(recorder)
    with Steller(api_key="k", base_url="http://x", transport=transport) as client:
        client.wallet.get()
        client.with_options(steller_version=None).wallet.get()
        client.with_options(steller_version="2027-01-01").wallet.get()
    versions = [r.headers.get("steller-version") for r in recorder.requests]
    assert versions == [API_VERSION, None, "2027-01-01"]


def test_clients_share_no_state(clean_env):
    a = Steller(api_key="ka", base_url="http://a", transport=httpx.MockTransport(Recorder()))
    b = Steller(api_key="kb", base_url="http://b", transport=httpx.MockTransport(Recorder()))
    assert a.converter is not b.converter
    assert a.orders is not b.orders
    assert a.orders is a.orders  # resources are built once per client


def test_unknown_fields_are_ignored_and_kept_in_the_raw_json(clean_env):
    recorder = Recorder({**WALLET, "rewardPoints": 12})
    with Steller(api_key="k", base_url="http://x", transport=httpx.MockTransport(recorder)) as c:
        wallet = c.wallet.get()
        raw = c.wallet.with_raw_response.get()
        assert raw.json()["rewardPoints"] == 12
        assert raw.parse() == wallet
    assert wallet.balance == Decimal("447.50")


def test_unknown_enum_values_arrive_as_plain_strings(clean_env):
    event = {
        "id": "evt_3Jk8Lm2Np5Qr7St9",
        "type": "order.refunded",  # a type newer than this SDK
        "createdAt": "2026-11-03T10:00:00Z",
        "data": {},
        "deliveryStatus": "delivered",
        "attempts": [],
        "nextAttemptAt": None,
    }
    recorder = Recorder(event)
    with Steller(api_key="k", base_url="http://x", transport=httpx.MockTransport(recorder)) as c:
        got = c.events.get("evt_3Jk8Lm2Np5Qr7St9")
    assert got.type == "order.refunded"
    assert got.delivery_status == "delivered"


def test_strict_client_refuses_unknown_fields_naming_them(clean_env):
    recorder = Recorder({**WALLET, "rewardPoints": 12})
    with (
        Steller(
            api_key="k", base_url="http://x", strict=True, transport=httpx.MockTransport(recorder)
        ) as client,
        pytest.raises(APIResponseValidationError) as caught,
    ):
        client.wallet.get()
    assert ("/rewardPoints", "unknown field") in [tuple(e) for e in caught.value.errors]


def test_signup_needs_no_key_and_returns_the_first_key(clean_env):
    body = json.loads(
        json.dumps(
            {
                "partner": {
                    "id": "ptn_4Fh8Kq2Lm9Np3Rs7",
                    "name": "Acme",
                    "email": "dev@acme.example",
                    "status": "active",
                    "environment": "sandbox",
                    "currency": "EUR",
                    "apiVersion": API_VERSION,
                    "lowBalanceThreshold": "0.00",
                    "notifications": {
                        "emails": [],
                        "lowBalance": True,
                        "orderFailed": True,
                        "keyChanges": True,
                        "webhookDisabled": True,
                    },
                    "createdAt": "2026-11-03T10:00:00Z",
                },
                "apiKey": {
                    "id": "key_9Hs2Kd7Lq4Wm1Xz8",
                    "role": "developer",
                    "prefix": "stlr_test_AbC",
                    "last4": "wxyz",
                    "status": "active",
                    "createdAt": "2026-11-03T10:00:00Z",
                    "lastUsedAt": None,
                    "expiresAt": None,
                    "revokedAt": None,
                    "ipAllowlist": [],
                    "key": "stlr_test_AbCdefghwxyz",
                },
                "wallet": {**WALLET, "currency": "EUR"},
            }
        )
    )
    recorder = Recorder(body, status=201)
    account = steller.signup(
        name="Acme",
        email="dev@acme.example",
        currency="EUR",
        environment="sandbox",
        transport=httpx.MockTransport(recorder),
    )
    assert isinstance(account, SignupResponse)
    assert account.api_key.key == "stlr_test_AbCdefghwxyz"
    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == SANDBOX_BASE_URL + "/api/public/signup"
    assert "x-api-key" not in request.headers
    assert request.headers["idempotency-key"]
    assert json.loads(request.content) == {
        "name": "Acme",
        "email": "dev@acme.example",
        "currency": "EUR",
    }


async def test_async_signup_classmethod(clean_env):
    recorder = Recorder(status=500)
    with pytest.raises(steller.InternalServerError):
        await AsyncSteller.signup(
            name="Acme",
            email="dev@acme.example",
            base_url="http://x",
            max_retries=0,
            transport=httpx.MockTransport(recorder),
        )
    assert len(recorder.requests) == 1
    assert "x-api-key" not in recorder.requests[0].headers


def test_readiness_returns_an_unavailable_answer_without_retrying(clean_env):
    unready = {"status": "unavailable", "checks": {"database": "fail", "redis": "disabled"}}
    recorder = Recorder(unready, status=503)
    with Steller(api_key="k", base_url="http://x", transport=httpx.MockTransport(recorder)) as c:
        ready = c.public.readiness()
    assert ready.status == "unavailable"
    assert ready.checks.database == "fail"
    assert len(recorder.requests) == 1


def test_repr_shows_no_credentials(clean_env):
    client = Steller(api_key="stlr_test_secret", base_url="http://x")
    assert "secret" not in repr(client)
    client.close()
