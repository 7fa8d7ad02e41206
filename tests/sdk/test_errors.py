"""Error mapping (steller/_errors.py): problem+json → the right class, with every field a user
needs to handle or report the failure."""

from __future__ import annotations

import email.utils
import json

import httpx
import pytest

from steller import _errors as E
from steller.webhooks import (
    WebhookMissingHeaderError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
)


def response(
    status: int,
    body: object = None,
    *,
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> httpx.Response:
    request = httpx.Request("POST", "https://api.steller.test/api/orders")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/problem+json", **(headers or {})},
        request=request,
    )


def problem(status: int, code: str | None = None, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"type": "about:blank", "title": "T", "status": status}
    if code:
        body["code"] = code
    return {**body, **extra}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "bad_request", E.BadRequestError),
        (401, "unauthorized", E.AuthenticationError),
        (402, "insufficient_funds", E.InsufficientFundsError),
        (402, None, E.InsufficientFundsError),
        (403, "forbidden", E.PermissionDeniedError),
        (404, "not_found", E.NotFoundError),
        (409, "conflict", E.ConflictError),
        (409, "idempotency_in_progress", E.IdempotencyInProgressError),
        (409, "reference_conflict", E.ReferenceConflictError),
        (413, "payload_too_large", E.PayloadTooLargeError),
        (422, "unprocessable", E.UnprocessableEntityError),
        (422, "idempotency_key_reused", E.IdempotencyKeyReusedError),
        (422, "price_above_expected_total", E.PriceAboveExpectedTotalError),
        (400, "validation_failed", E.ValidationFailedError),
        (429, "rate_limited", E.RateLimitError),
        (500, "internal_error", E.InternalServerError),
        (502, None, E.InternalServerError),
        (503, "unavailable", E.ServiceUnavailableError),
        (405, "method_not_allowed", E.APIStatusError),
    ],
)
def test_status_and_code_select_the_error_class(status, code, cls):
    err = E.make_status_error(response(status, problem(status, code)))
    assert type(err) is cls
    assert err.status_code == status
    assert err.code == code


def test_a_code_used_with_an_unexpected_status_falls_back_to_the_status_class():
    # ``except UnprocessableEntityError`` must catch every 422, whatever the code says.
    err = E.make_status_error(
        response(422, problem(422, "validation_failed", errors=[{"pointer": "/x", "message": "m"}]))
    )
    assert type(err) is E.UnprocessableEntityError
    assert err.errors == [E.FieldError("/x", "m")]


def test_the_class_tree_lets_users_catch_broadly_or_narrowly():
    assert issubclass(E.IdempotencyInProgressError, E.ConflictError)
    assert issubclass(E.ValidationFailedError, E.BadRequestError)
    assert issubclass(E.ServiceUnavailableError, E.InternalServerError)
    assert issubclass(E.APITimeoutError, E.APIConnectionError)
    assert not issubclass(E.APIConnectionError, E.APIStatusError)
    for cls in (E.APIStatusError, E.APIConnectionError, E.APIResponseValidationError):
        assert issubclass(cls, E.StellerError)
    for cls in (WebhookMissingHeaderError, WebhookTimestampError, WebhookSignatureError):
        assert issubclass(cls, WebhookVerificationError)
    assert issubclass(WebhookVerificationError, E.StellerError)


def test_error_carries_every_problem_field_and_the_response():
    body = problem(
        402,
        "insufficient_funds",
        title="Insufficient funds",
        detail="Wallet balance 10.00 USD is below the order total 52.50 USD",
        instance="/api/orders",
        requestId="req_123",
    )
    resp = response(402, body, headers={"X-Request-Id": "req_123", "RateLimit": '"o";r=9;t=1'})
    err = E.make_status_error(resp, idempotency_key="key-1")
    assert err.status_code == 402
    assert err.code == "insufficient_funds"
    assert err.title == "Insufficient funds"
    assert err.detail == "Wallet balance 10.00 USD is below the order total 52.50 USD"
    assert err.instance == "/api/orders"
    assert err.type == "about:blank"
    assert err.body == body
    assert err.request_id == "req_123"
    assert err.idempotency_key == "key-1"
    assert err.headers["ratelimit"] == '"o";r=9;t=1'
    assert err.response is resp
    assert err.errors == []


def test_str_is_one_useful_line():
    body = problem(
        402,
        "insufficient_funds",
        detail="Wallet balance 10.00 USD is below the order total 52.50 USD",
        requestId="req_123",
    )
    err = E.make_status_error(response(402, body))
    assert str(err) == (
        "402 insufficient_funds: Wallet balance 10.00 USD is below the order total 52.50 USD "
        "(request req_123)"
    )


def test_validation_errors_list_pointer_and_message_pairs():
    body = problem(
        400,
        "validation_failed",
        detail="The request body is invalid",
        requestId="req_9",
        errors=[
            {"pointer": "/quantity", "message": "must be >= 1"},
            {"pointer": "/sku", "message": "is required"},
        ],
    )
    err = E.make_status_error(response(400, body))
    assert isinstance(err, E.ValidationFailedError)
    assert err.errors == [("/quantity", "must be >= 1"), ("/sku", "is required")]
    assert [e.pointer for e in err.errors] == ["/quantity", "/sku"]
    assert str(err) == (
        "400 validation_failed: The request body is invalid "
        "[/quantity: must be >= 1; /sku: is required] (request req_9)"
    )


def test_request_id_falls_back_to_the_response_header():
    err = E.make_status_error(
        response(404, problem(404, "not_found"), headers={"X-Request-Id": "r"})
    )
    assert err.request_id == "r"


def test_a_non_json_error_page_still_gives_a_readable_error():
    err = E.make_status_error(response(502, text="<html>\n  <h1>Bad gateway</h1>\n</html>"))
    assert type(err) is E.InternalServerError
    assert err.code is None
    assert err.body == "<html>\n  <h1>Bad gateway</h1>\n</html>"
    assert str(err) == "502 Bad Gateway: <html> <h1>Bad gateway</h1> </html>"


def test_an_empty_error_body_gives_status_and_reason():
    err = E.make_status_error(response(503, text=""))
    assert str(err) == "503 Service Unavailable"
    assert err.body is None


def test_rate_limit_error_exposes_retry_after_seconds():
    err = E.make_status_error(
        response(429, problem(429, "rate_limited"), headers={"Retry-After": "7"})
    )
    assert isinstance(err, E.RateLimitError)
    assert err.retry_after == 7.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"RateLimit": '"default";r=0;t=3'}, 3.0),
        ({"RateLimit": '"default";r=5;t=3'}, None),
        ({"RateLimit": '"burst";r=0;t=1, "daily";r=0;t=30'}, 30.0),
        ({"RateLimit": '"burst";r=4;t=1, "daily";r=0;t=30'}, 30.0),
        ({"RateLimit": "limit=10, remaining=0, reset=4"}, 4.0),
        ({"RateLimit": "limit=10, remaining=0", "RateLimit-Reset": "6"}, 6.0),
        ({"Retry-After": "2", "RateLimit": '"default";r=0;t=3'}, 2.0),
    ],
)
def test_retry_after_from_headers(headers, expected):
    assert E.retry_after_from_headers(httpx.Headers(headers)) == expected


def test_retry_after_http_date_is_relative_to_now():
    when = email.utils.formatdate(1_700_000_030, usegmt=True)
    assert E.retry_after_from_headers(httpx.Headers({"Retry-After": when}), now=1_700_000_000) == 30
    assert E.retry_after_from_headers(httpx.Headers({"Retry-After": when}), now=1_800_000_000) == 0


def test_response_validation_error_lists_its_pointers_in_the_message():
    resp = response(200, {})
    err = E.APIResponseValidationError(
        "bad", response=resp, body={}, errors=[E.FieldError("/total", "invalid")]
    )
    assert str(err) == "bad: /total: invalid"
