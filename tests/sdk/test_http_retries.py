"""Retry rules of the request layer (steller/_http.py): what is retried, how long we wait, and
that the idempotency key stays the same across attempts. No test sleeps: ``sleeps`` records."""

from __future__ import annotations

import email.utils
import logging
import time

import httpx
import pytest

import steller._http
from steller._config import RequestOptions, RetryPolicy
from steller._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    IdempotencyInProgressError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
)
from steller._response import to_raw_response_wrapper


def test_get_is_retried_after_a_503_and_returns_the_later_success(helpers, sleeps):
    script = helpers.Script(helpers.problem(503, "unavailable"), helpers.ok({"id": "ord_1"}))
    with helpers.sync_client(script) as client:
        assert client.request("GET", "/api/orders/ord_1", cast_to=dict) == {"id": "ord_1"}
    assert script.count == 2
    assert sleeps == [0.5]


def test_backoff_doubles_and_is_capped_by_max_backoff(helpers, sleeps):
    script = helpers.Script(helpers.problem(500))
    policy = RetryPolicy(max_retries=5, initial_backoff=1, max_backoff=5, jitter=0)
    with helpers.sync_client(script, retry=policy) as client, pytest.raises(InternalServerError):
        client.request("GET", "/api/wallet/me", cast_to=dict)
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert script.count == 6


def test_backoff_jitter_stays_within_the_configured_range(helpers, sleeps):
    script = helpers.Script(helpers.problem(502))
    policy = RetryPolicy(
        max_retries=20, initial_backoff=0.5, max_backoff=100, jitter=1.0, max_total_time=None
    )
    with helpers.sync_client(script, retry=policy) as client, pytest.raises(InternalServerError):
        client.request("GET", "/x")
    for n, slept in enumerate(sleeps[:6]):
        base = 0.5 * 2**n
        assert base <= slept <= base + 1.0
    assert len(set(sleeps)) > 1  # really jittered


def test_gives_up_after_max_retries_and_reports_retries_taken(helpers, sleeps):
    script = helpers.Script(helpers.problem(500, detail="boom"))
    with helpers.sync_client(script) as client, pytest.raises(InternalServerError) as info:
        client.request("GET", "/api/orders")
    assert script.count == 3  # 1 attempt + the default 2 retries
    assert info.value.retries_taken == 2
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_for_get(helpers, sleeps, status):
    script = helpers.Script(helpers.problem(status), helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/api/orders")
    assert script.count == 2


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "unauthorized"),
        (402, "insufficient_funds"),
        (403, "forbidden"),
        (404, "not_found"),
        (409, "reference_conflict"),
        (413, "payload_too_large"),
        (422, "validation_failed"),
        (422, "idempotency_key_reused"),
    ],
)
def test_other_client_errors_are_never_retried(helpers, sleeps, status, code):
    script = helpers.Script(helpers.problem(status, code), helpers.ok())
    with helpers.sync_client(script) as client, pytest.raises(APIStatusError) as info:
        client.request("POST", "/api/orders", json={"sku": "A"})
    assert info.value.status_code == status
    assert script.count == 1
    assert sleeps == []


def test_post_is_retried_with_the_same_generated_idempotency_key_on_every_attempt(helpers, sleeps):
    script = helpers.Script(helpers.problem(503), helpers.problem(500), helpers.ok({"id": "o"}))
    with helpers.sync_client(script) as client:
        raw = client.request_raw("POST", "/api/orders", json={"sku": "A"}, cast_to=dict)
    keys = script.header("Idempotency-Key")
    assert len(keys) == 3
    assert keys[0] is not None
    assert len(set(keys)) == 1
    assert raw.idempotency_key == keys[0]
    assert raw.retries_taken == 2


def test_post_is_retried_with_the_callers_idempotency_key(helpers, sleeps):
    script = helpers.Script(helpers.problem(502), helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("POST", "/api/orders", json={}, idempotency_key="order-42")
    assert script.header("Idempotency-Key") == ["order-42", "order-42"]


def test_post_without_idempotency_key_is_not_retried_after_a_5xx(helpers, sleeps):
    script = helpers.Script(helpers.problem(503), helpers.ok())
    with helpers.sync_client(script) as client, pytest.raises(ServiceUnavailableError) as info:
        client.request("POST", "/api/orders", json={}, idempotency_key=None)
    assert script.count == 1
    assert script.header("Idempotency-Key") == [None]
    assert info.value.idempotency_key is None


def test_post_without_idempotency_key_is_not_retried_after_a_read_timeout(helpers, sleeps):
    script = helpers.Script(httpx.ReadTimeout("slow"), helpers.ok())
    with helpers.sync_client(script) as client, pytest.raises(APITimeoutError):
        client.request("POST", "/api/orders", json={}, idempotency_key=None)
    assert script.count == 1


def test_post_with_a_key_is_retried_after_a_read_timeout(helpers, sleeps):
    script = helpers.Script(httpx.ReadTimeout("slow"), helpers.ok({"id": "o"}))
    with helpers.sync_client(script) as client:
        assert client.request("POST", "/api/orders", json={}, cast_to=dict) == {"id": "o"}
    assert script.count == 2
    assert len(set(script.header("Idempotency-Key"))) == 1


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")],
)
def test_errors_before_the_request_was_sent_are_retried_even_without_a_key(helpers, sleeps, error):
    script = helpers.Script(error, helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("POST", "/api/orders", json={}, idempotency_key=None)
    assert script.count == 2


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("t"), httpx.ReadError("reset"), httpx.RemoteProtocolError("closed")],
)
def test_errors_after_sending_are_retried_for_get(helpers, sleeps, error):
    script = helpers.Script(error, helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/api/orders")
    assert script.count == 2


def test_connection_errors_that_persist_raise_api_connection_error(helpers, sleeps):
    script = helpers.Script(httpx.ConnectError("refused"))
    with helpers.sync_client(script) as client, pytest.raises(APIConnectionError) as info:
        client.request("POST", "/api/orders", json={}, idempotency_key="k1")
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.idempotency_key == "k1"
    assert info.value.retries_taken == 2
    assert "POST https://api.steller.test/api/orders" in str(info.value)


def test_timeouts_raise_api_timeout_error(helpers, sleeps):
    script = helpers.Script(httpx.ReadTimeout("slow"))
    with helpers.sync_client(script) as client, pytest.raises(APITimeoutError):
        client.request("GET", "/api/orders")
    assert script.count == 3


def test_idempotency_in_progress_is_retried_with_the_same_key(helpers, sleeps):
    script = helpers.Script(
        helpers.problem(409, "idempotency_in_progress", headers={"Retry-After": "1"}),
        helpers.ok({"id": "o"}, status=202, headers={"Idempotent-Replayed": "true"}),
    )
    with helpers.sync_client(script) as client:
        raw = client.request_raw("POST", "/api/orders", json={}, cast_to=dict)
    assert raw.idempotent_replayed
    assert sleeps == [1.0]
    assert len(set(script.header("Idempotency-Key"))) == 1


def test_idempotency_in_progress_surfaces_once_retries_are_spent(helpers, sleeps):
    script = helpers.Script(helpers.problem(409, "idempotency_in_progress"))
    with helpers.sync_client(script) as client, pytest.raises(IdempotencyInProgressError):
        client.request("POST", "/api/orders", json={}, idempotency_key="k")
    assert script.count == 3


def test_retry_after_seconds_is_honoured(helpers, sleeps):
    script = helpers.Script(
        helpers.problem(429, "rate_limited", headers={"Retry-After": "3"}), helpers.ok()
    )
    with helpers.sync_client(script) as client:
        client.request("GET", "/api/brand/getCatalog")
    assert sleeps == [3.0]


def test_retry_after_http_date_is_honoured(helpers, sleeps):
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    script = helpers.Script(helpers.problem(503, headers={"Retry-After": when}), helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/api/orders")
    assert len(sleeps) == 1
    assert 8.0 <= sleeps[0] <= 10.5


def test_retry_after_beyond_the_cap_ends_retries_and_reports_retry_after(helpers, sleeps):
    script = helpers.Script(
        helpers.problem(429, "rate_limited", headers={"Retry-After": "120"}), helpers.ok()
    )
    with helpers.sync_client(script) as client, pytest.raises(RateLimitError) as info:
        client.request("GET", "/api/orders")
    assert script.count == 1
    assert sleeps == []
    assert info.value.retry_after == 120.0


def test_retry_after_cap_is_configurable(helpers, sleeps):
    script = helpers.Script(helpers.problem(429, headers={"Retry-After": "120"}), helpers.ok())
    policy = RetryPolicy(max_retry_after=300, max_total_time=None, jitter=0)
    with helpers.sync_client(script, retry=policy) as client:
        client.request("GET", "/api/orders")
    assert sleeps == [120.0]


def test_ratelimit_header_reset_is_used_when_retry_after_is_absent(helpers, sleeps):
    limited = helpers.problem(
        429,
        "rate_limited",
        headers={"RateLimit-Policy": '"orders";q=10;w=1', "RateLimit": '"orders";r=0;t=3'},
    )
    script = helpers.Script(limited, helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/api/orders")
    assert sleeps == [3.0]


def test_total_time_cap_stops_retries_whose_wait_would_overrun_it(helpers, sleeps):
    script = helpers.Script(helpers.problem(503))
    policy = RetryPolicy(
        max_retries=10, initial_backoff=1, max_backoff=60, jitter=0, max_total_time=5
    )
    with helpers.sync_client(script, retry=policy) as client, pytest.raises(InternalServerError):
        client.request("GET", "/api/orders")
    # waits of 1 and 2 fit in 5 s; the next (4 s) would end at 7 s, so the SDK gives up.
    assert sleeps == [1.0, 2.0]
    assert script.count == 3


def test_max_retries_zero_disables_retrying(helpers, sleeps):
    script = helpers.Script(helpers.problem(503), helpers.ok())
    with helpers.sync_client(script, max_retries=0) as client, pytest.raises(InternalServerError):
        client.request("GET", "/api/orders")
    assert script.count == 1


def test_per_call_options_override_the_client_retry_count(helpers, sleeps):
    script = helpers.Script(helpers.problem(503))
    with helpers.sync_client(script) as client, pytest.raises(InternalServerError):
        client.request("GET", "/api/orders", options=RequestOptions(max_retries=4))
    assert script.count == 5


def test_with_options_copy_changes_retries_without_touching_the_original(helpers, sleeps):
    script = helpers.Script(helpers.problem(503))
    with helpers.sync_client(script) as client:
        with pytest.raises(InternalServerError):
            client.with_options(max_retries=0).request("GET", "/a")
        assert script.count == 1
        with pytest.raises(InternalServerError):
            client.request("GET", "/a")
        assert script.count == 4


def test_without_instant_retries_the_sdk_really_sleeps(helpers, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(steller._http.time, "sleep", slept.append)
    script = helpers.Script(helpers.problem(503), helpers.ok())
    with helpers.sync_client(script) as client:
        client.request("GET", "/api/orders")
    assert slept == [0.5]


def test_each_retry_is_logged_with_its_reason(helpers, sleeps, caplog):
    script = helpers.Script(helpers.problem(503, "maintenance"), helpers.ok())
    with caplog.at_level(logging.INFO, logger="steller"), helpers.sync_client(script) as client:
        client.request("GET", "/api/orders")
    assert "Retrying GET /api/orders in 0.50 s (retry 1 of 2) after 503 maintenance" in caplog.text


def test_raw_response_reports_retries_taken(helpers, sleeps):
    script = helpers.Script(helpers.problem(503), helpers.ok({"a": 1}))
    with helpers.sync_client(script) as client:
        raw = to_raw_response_wrapper(client.request)("GET", "/a", cast_to=dict)
    assert raw.retries_taken == 1
    assert raw.parse() == {"a": 1}


def test_non_retryable_error_is_raised_immediately_even_mid_retry(helpers, sleeps):
    script = helpers.Script(helpers.problem(503), helpers.problem(400, "bad_request"), helpers.ok())
    with helpers.sync_client(script) as client, pytest.raises(BadRequestError) as info:
        client.request("GET", "/a")
    assert script.count == 2
    assert info.value.retries_taken == 1


class _NoRetrying:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a tenacity retryer was built")


@pytest.mark.parametrize("first", ["ok", "not retryable"])
def test_a_call_that_needs_no_retry_builds_no_retryer(helpers, sleeps, monkeypatch, first):
    # Building a tenacity.Retrying costs ~30 µs: only a retryable failure pays for it.
    monkeypatch.setattr(steller._http.tenacity, "Retrying", _NoRetrying)
    step = helpers.ok({"a": 1}) if first == "ok" else helpers.problem(400, "bad_request")
    with helpers.sync_client(helpers.Script(step)) as client:
        if first == "ok":
            assert client.request("GET", "/a", cast_to=dict) == {"a": 1}
        else:
            with pytest.raises(BadRequestError):
                client.request("GET", "/a")


# -- async --------------------------------------------------------------------------------------


async def test_async_get_is_retried_and_succeeds(helpers, sleeps):
    script = helpers.Script(helpers.problem(503), httpx.ConnectError("x"), helpers.ok({"v": 1}))
    async with helpers.async_client(script) as client:
        assert await client.request("GET", "/a", cast_to=dict) == {"v": 1}
    assert sleeps == [0.5, 1.0]


async def test_async_post_keeps_one_idempotency_key_across_attempts(helpers, sleeps):
    script = helpers.Script(httpx.ReadTimeout("t"), helpers.problem(502), helpers.ok())
    async with helpers.async_client(script) as client:
        raw = await client.request_raw("POST", "/api/orders", json={"a": 1})
    keys = script.header("Idempotency-Key")
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert keys[0] == raw.idempotency_key


async def test_async_post_without_key_is_not_retried_after_read_timeout(helpers, sleeps):
    script = helpers.Script(httpx.ReadTimeout("t"), helpers.ok())
    async with helpers.async_client(script) as client:
        with pytest.raises(APITimeoutError):
            await client.request("POST", "/api/orders", json={}, idempotency_key=None)
    assert script.count == 1


async def test_async_honours_retry_after_and_its_cap(helpers, sleeps):
    script = helpers.Script(
        helpers.problem(429, headers={"Retry-After": "2"}),
        helpers.problem(429, headers={"Retry-After": "61"}),
    )
    async with helpers.async_client(script) as client:
        with pytest.raises(RateLimitError) as info:
            await client.request("GET", "/a")
    assert sleeps == [2.0]
    assert info.value.retry_after == 61.0
    assert info.value.retries_taken == 1


async def test_async_call_that_succeeds_at_once_builds_no_retryer(helpers, sleeps, monkeypatch):
    monkeypatch.setattr(steller._http.tenacity, "AsyncRetrying", _NoRetrying)
    async with helpers.async_client(helpers.Script(helpers.ok({"a": 1}))) as client:
        assert await client.request("GET", "/a", cast_to=dict) == {"a": 1}
