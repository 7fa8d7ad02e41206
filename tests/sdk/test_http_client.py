"""The request layer's contract with resources and users: headers, auth, idempotency keys,
URLs, parameters, bodies, parsing, timeouts, copies, client ownership, logging."""

from __future__ import annotations

import datetime as dt
import enum
import importlib.metadata
import json
import logging
import platform
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

import steller
from steller._config import NOT_GIVEN, RequestOptions, Timeout
from steller._errors import APIResponseValidationError
from steller._http import AsyncAPIClient, SyncAPIClient, encode_path, user_agent
from steller._version import __version__


class Status(enum.StrEnum):
    completed = "completed"


@dataclass(kw_only=True)
class Order:
    id: str
    total: Decimal
    created_at: dt.datetime


ORDER_JSON = {"id": "ord_1", "total": "52.50", "createdAt": "2025-03-01T12:00:00Z"}


# -- headers and auth ---------------------------------------------------------------------------


def test_user_agent_names_sdk_python_and_httpx_versions(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/a")
    ua = script.requests[0].headers["User-Agent"]
    assert ua == user_agent()
    assert ua == (
        f"steller-python/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
    )


def test_sdk_version_matches_the_installed_distribution():
    assert __version__ == importlib.metadata.version("steller")


def test_default_headers_carry_api_key_and_accept_json(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script, steller_version="2025-01-01") as client:
        client.request("GET", "/a")
    headers = script.requests[0].headers
    assert headers["x-api-key"] == helpers.API_KEY
    assert headers["Accept"] == "application/json"
    assert headers["Steller-Version"] == "2025-01-01"
    assert "Authorization" not in headers


def test_steller_version_is_not_sent_unless_configured(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/a")
    assert "Steller-Version" not in script.requests[0].headers


def test_bearer_token_auth_for_the_admin_client(helpers):
    script = helpers.Script(helpers.ok())
    transport = httpx.MockTransport(script)
    with SyncAPIClient(base_url=helpers.BASE_URL, bearer_token="tok_1", transport=transport) as c:
        c.request("GET", "/api/admin/audit-log")
    assert script.requests[0].headers["Authorization"] == "Bearer tok_1"
    assert "x-api-key" not in script.requests[0].headers


def test_api_key_and_bearer_token_together_are_refused():
    with pytest.raises(ValueError, match="either api_key= or bearer_token="):
        SyncAPIClient(base_url="https://x", api_key="k", bearer_token="t")


def test_unauthenticated_client_sends_no_credentials(helpers):
    script = helpers.Script(helpers.ok())
    with SyncAPIClient(base_url=helpers.BASE_URL, transport=httpx.MockTransport(script)) as c:
        c.request("POST", "/api/public/signup", json={"email": "a@b.c"})
    headers = script.requests[0].headers
    assert "x-api-key" not in headers
    assert "Authorization" not in headers


def test_per_call_headers_and_extra_headers_override_defaults(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script, default_headers={"X-Partner": "acme"}) as client:
        client.request(
            "GET",
            "/a",
            headers={"X-Request-Id": "req_mine"},
            options=RequestOptions(extra_headers={"X-Partner": "other", "X-Extra": "1"}),
        )
    headers = script.requests[0].headers
    assert headers["X-Request-Id"] == "req_mine"
    assert headers["X-Partner"] == "other"
    assert headers["X-Extra"] == "1"


# -- idempotency keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_mutating_requests_get_a_fresh_uuid4_idempotency_key(helpers, method):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request(method, "/a", json={})
        client.request(method, "/a", json={})
    first, second = script.header("Idempotency-Key")
    assert uuid.UUID(first).version == 4
    assert first != second


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_requests_carry_no_idempotency_key(helpers, method):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request(method, "/a")
    assert script.header("Idempotency-Key") == [None]


def test_idempotency_key_given_as_a_header_is_used_once(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        raw = client.request_raw("POST", "/a", json={}, headers={"idempotency-key": "mine"})
    assert script.requests[0].headers.get_list("Idempotency-Key") == ["mine"]
    assert raw.idempotency_key == "mine"


def test_explicit_idempotency_key_argument_wins_over_a_header(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("POST", "/a", json={}, headers={"Idempotency-Key": "h"}, idempotency_key="a")
    assert script.requests[0].headers.get_list("Idempotency-Key") == ["a"]


def test_error_carries_the_idempotency_key_that_was_sent(helpers):
    script = helpers.Script(helpers.problem(402, "insufficient_funds"))
    with helpers.sync_client(script) as client, pytest.raises(steller._errors.APIStatusError) as e:
        client.request("POST", "/api/orders", json={})
    assert e.value.idempotency_key == script.requests[0].headers["Idempotency-Key"]


# -- URLs, params, bodies -----------------------------------------------------------------------


def test_base_url_path_prefix_is_kept(helpers):
    script = helpers.Script(helpers.ok())
    transport = httpx.MockTransport(script)
    with SyncAPIClient(base_url="https://gw.example/steller", transport=transport) as client:
        client.request("GET", "/api/orders")
        client.request("GET", "api/wallet/me")
        client.request("GET", "https://files.example/export.csv", cast_to=bytes)
    assert [str(r.url) for r in script.requests] == [
        "https://gw.example/steller/api/orders",
        "https://gw.example/steller/api/wallet/me",
        "https://files.example/export.csv",
    ]


def test_encode_path_escapes_ids_so_they_cannot_change_the_route():
    assert encode_path("/api/orders/{id}", id="ord_1") == "/api/orders/ord_1"
    assert encode_path("/api/orders/{id}", id="../admin") == "/api/orders/..%2Fadmin"
    with pytest.raises(ValueError, match="non-empty"):
        encode_path("/api/orders/{id}", id="")


def test_query_params_drop_unset_values_and_use_wire_forms(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request(
            "GET",
            "/api/orders",
            params={
                "status": Status.completed,
                "createdAfter": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                "cursor": None,
                "limit": NOT_GIVEN,
                "includeCards": True,
                "sku": ["A", "B"],
            },
            options=RequestOptions(extra_query={"debug": "1"}),
        )
    assert script.requests[0].url.params.multi_items() == [
        ("status", "completed"),
        ("createdAfter", "2025-01-02T03:04:05Z"),
        ("includeCards", "true"),
        ("sku", "A"),
        ("sku", "B"),
        ("debug", "1"),
    ]


QUERIES = [
    {"limit": 50},
    {"limit": 50},  # again: from the cache of query URLs
    {"flag": True},
    {"flag": 1},  # == True, but written "1": the cache must not mix them up
    {"flag": "1"},
    {"limit": 50, "cursor": "eyJzIjoiQSJ9", "sku": ["A", "B"]},  # a list: merged by httpx
    {"q": "café & tea/?#", "n": -3, "zero": 0, "empty": ""},
    {"x": 1.0},
]


@pytest.mark.parametrize("client_params", [None, {"a": "1", "limit": "7"}])
def test_query_urls_are_exactly_what_httpx_builds(helpers, client_params):
    script = helpers.Script(*[helpers.ok() for _ in QUERIES])
    http_client = httpx.Client(transport=httpx.MockTransport(script), params=client_params)
    expected = httpx.Client(params=client_params)
    with SyncAPIClient(base_url="https://gw.example/steller", http_client=http_client) as client:
        for params in QUERIES:
            client.request("GET", "/api/orders", params=params)
    assert [str(r.url) for r in script.requests] == [
        str(expected.build_request("GET", "https://gw.example/steller/api/orders", params=p).url)
        for p in QUERIES
    ]


def test_json_body_drops_not_given_keeps_null_and_serialises_money_as_strings(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request(
            "POST",
            "/api/orders",
            json={
                "sku": "AMZ-US",
                "faceValue": Decimal("50.00"),
                "expectedTotal": NOT_GIVEN,
                "note": None,
            },
        )
    body = json.loads(script.requests[0].content)
    assert body == {"sku": "AMZ-US", "faceValue": "50.00", "note": None}
    assert script.requests[0].headers["content-type"] == "application/json"


def test_json_body_may_be_a_model_instance(helpers):
    script = helpers.Script(helpers.ok())
    order = Order(id="o", total=Decimal("1.10"), created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    with helpers.sync_client(script) as client:
        client.request("POST", "/a", json=order)
    assert json.loads(script.requests[0].content) == {
        "id": "o",
        "total": "1.10",
        "createdAt": "2025-01-01T00:00:00Z",
    }


# -- parsing ------------------------------------------------------------------------------------


def test_response_is_structured_into_the_requested_model(helpers):
    script = helpers.Script(helpers.ok(ORDER_JSON))
    with helpers.sync_client(script) as client:
        order = client.request("GET", "/api/orders/ord_1", cast_to=Order)
    assert order == Order(
        id="ord_1", total=Decimal("52.50"), created_at=dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    )


def test_cast_to_none_str_bytes_and_httpx_response(helpers):
    script = helpers.Script(httpx.Response(200, text="a,b\n1,2\n"))
    with helpers.sync_client(script) as client:
        assert client.request("DELETE", "/a") is None
        assert client.request("GET", "/a", cast_to=str) == "a,b\n1,2\n"
        assert client.request("GET", "/a", cast_to=bytes) == b"a,b\n1,2\n"
        assert client.request("GET", "/a", cast_to=httpx.Response).status_code == 200


def test_contract_mismatch_names_each_bad_field_by_json_pointer(helpers):
    bad = {"id": "ord_1", "total": "lots", "createdAt": "2025-03-01T12:00:00Z"}
    script = helpers.Script(helpers.ok(bad))
    with helpers.sync_client(script) as client, pytest.raises(APIResponseValidationError) as info:
        client.request("GET", "/api/orders/ord_1", cast_to=Order)
    assert [e.pointer for e in info.value.errors] == ["/total"]
    assert "GET /api/orders/ord_1 is not a valid Order: /total:" in str(info.value)
    assert info.value.body == bad


def test_missing_required_field_is_reported_with_its_wire_name(helpers):
    script = helpers.Script(helpers.ok({"id": "ord_1", "total": "1"}))
    with helpers.sync_client(script) as client, pytest.raises(APIResponseValidationError) as info:
        client.request("GET", "/x", cast_to=Order)
    assert info.value.errors[0].pointer == "/createdAt"
    assert "required field missing" in info.value.errors[0].message


def test_non_json_success_body_is_a_response_validation_error(helpers):
    script = helpers.Script(httpx.Response(200, text="<html>proxy</html>"))
    with helpers.sync_client(script) as client, pytest.raises(APIResponseValidationError):
        client.request("GET", "/x", cast_to=Order)


# -- timeouts -----------------------------------------------------------------------------------


def test_default_timeout_is_applied_to_each_request(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/a")
        client.request("GET", "/a", options=RequestOptions(timeout=Timeout(connect=1, read=2)))
        client.with_options(timeout=None).request("GET", "/a")
    first, second, third = (r.extensions["timeout"] for r in script.requests)
    assert first == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 10.0}
    assert second == {"connect": 1, "read": 2, "write": 30.0, "pool": 10.0}
    assert third == {"connect": None, "read": None, "write": None, "pool": None}


def test_timeout_of_a_callers_http_client_is_kept(helpers):
    script = helpers.Script(helpers.ok())
    with httpx.Client(transport=httpx.MockTransport(script), timeout=7) as http:
        SyncAPIClient(base_url=helpers.BASE_URL, http_client=http).request("GET", "/a")
    assert script.requests[0].extensions["timeout"]["read"] == 7


# -- client ownership and copies ----------------------------------------------------------------


def test_never_closes_an_http_client_it_did_not_create(helpers):
    script = helpers.Script(helpers.ok())
    with httpx.Client(transport=httpx.MockTransport(script)) as http:
        with SyncAPIClient(base_url=helpers.BASE_URL, http_client=http) as client:
            client.request("GET", "/a")
        client.close()
        assert not http.is_closed
        http.get(f"{helpers.BASE_URL}/still-usable")


def test_closes_the_http_client_it_created(helpers):
    client = helpers.sync_client(helpers.Script(helpers.ok()))
    with client:
        pass
    assert client.is_closed


def test_with_options_shares_the_http_client_and_closing_a_copy_keeps_it_open(helpers):
    script = helpers.Script(helpers.ok())
    with helpers.sync_client(script) as client:
        copy = client.with_options(timeout=3, default_headers={"X-Team": "ops"})
        assert copy.http_client is client.http_client
        assert copy.converter is client.converter
        copy.close()
        assert not client.is_closed
        copy.request("GET", "/a")
        client.request("GET", "/a")
    assert script.requests[0].headers["X-Team"] == "ops"
    assert "X-Team" not in script.requests[1].headers
    assert script.requests[0].extensions["timeout"]["read"] == 3
    assert script.requests[1].extensions["timeout"]["read"] == 30.0


def test_with_options_can_switch_credentials(helpers):
    script = helpers.Script(helpers.ok())
    with SyncAPIClient(base_url=helpers.BASE_URL, transport=httpx.MockTransport(script)) as anon:
        anon.with_options(bearer_token="tok").request("GET", "/a")
        anon.request("GET", "/a")
    assert script.header("Authorization") == ["Bearer tok", None]


def test_http_client_and_transport_are_mutually_exclusive_and_type_checked():
    transport = httpx.MockTransport(print)
    sync_http = httpx.Client(transport=transport)
    async_http = httpx.AsyncClient(transport=transport)
    with pytest.raises(ValueError, match="not both"):
        SyncAPIClient(base_url="https://x", http_client=sync_http, transport=transport)
    with pytest.raises(TypeError, match=r"httpx\.Client"):
        SyncAPIClient(base_url="https://x", http_client=async_http)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"httpx\.AsyncClient"):
        AsyncAPIClient(base_url="https://x", http_client=sync_http)  # type: ignore[arg-type]


async def test_async_client_never_closes_an_http_client_it_did_not_create(helpers):
    script = helpers.Script(helpers.ok({"a": 1}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as http:
        async with AsyncAPIClient(base_url=helpers.BASE_URL, http_client=http) as client:
            assert await client.request("GET", "/a", cast_to=dict) == {"a": 1}
        assert not http.is_closed


async def test_async_client_closes_the_http_client_it_created(helpers):
    client = helpers.async_client(helpers.Script(helpers.ok()))
    async with client:
        await client.with_options(max_retries=0).close()
        assert not client.is_closed
    assert client.is_closed


# -- logging ------------------------------------------------------------------------------------


def test_the_api_key_never_reaches_the_log(helpers, caplog, sleeps):
    script = helpers.Script(helpers.problem(503), helpers.ok())
    with caplog.at_level(logging.DEBUG, logger="steller"), helpers.sync_client(script) as client:
        client.request("POST", "/api/orders", json={})
    assert caplog.records
    assert helpers.API_KEY not in caplog.text
    assert "'x-api-key': '<redacted>'" in caplog.text


def test_repr_does_not_show_credentials(helpers):
    client = helpers.sync_client(helpers.Script(helpers.ok()))
    assert helpers.API_KEY not in repr(client)
    assert "auth=api_key" in repr(client)


def test_steller_log_env_var_adds_one_handler_however_many_clients(
    helpers, monkeypatch, steller_logger
):
    monkeypatch.setenv("STELLER_LOG", "debug")
    helpers.sync_client(helpers.Script(helpers.ok()))
    helpers.sync_client(helpers.Script(helpers.ok()))
    marked = [h for h in steller_logger.handlers if getattr(h, "_steller_env_handler", False)]
    assert len(marked) == 1
    assert steller_logger.level == logging.DEBUG


def test_no_logging_configuration_without_steller_log(helpers, monkeypatch, steller_logger):
    monkeypatch.delenv("STELLER_LOG", raising=False)
    before = list(steller_logger.handlers)
    helpers.sync_client(helpers.Script(helpers.ok()))
    assert steller_logger.handlers == before


def test_importing_the_sdk_has_no_logging_side_effects():
    code = (
        "import logging, steller._http, steller.webhooks; "
        "assert logging.getLogger('steller').handlers == []"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"STELLER_LOG": "debug"})


def test_request_ids_are_logged_for_support(helpers, caplog):
    script = helpers.Script(helpers.ok(headers={"X-Request-Id": "req_42"}))
    with caplog.at_level(logging.INFO, logger="steller"), helpers.sync_client(script) as client:
        client.request("GET", "/api/wallet/me")
    assert re.search(
        r"GET /api/wallet/me -> 200 \(request req_42, \d+ ms, 0 retries\)", caplog.text
    )
