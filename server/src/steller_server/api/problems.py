"""RFC 9457 problem details: the one place where errors become HTTP responses.

Every error a client can see is `application/problem+json` with a stable snake_case `code`. Domain
errors carry their code; this module owns the code → status table, so routes never pick statuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

PROBLEM_TYPE_BASE = "https://docs.steller.dev/errors/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# code -> (status, title)
CODES: dict[str, tuple[int, str]] = {
    "validation_failed": (400, "The request is not valid"),
    "invalid_cursor": (400, "The pagination cursor is not valid"),
    "unsupported_version": (400, "Unsupported API version"),
    "unauthenticated": (401, "Authentication required"),
    "invalid_api_key": (401, "Invalid API key"),
    "invalid_token": (401, "Invalid or expired token"),
    "invalid_credentials": (401, "Invalid email or password"),
    "invalid_vendor_secret": (401, "Invalid vendor secret"),
    "insufficient_funds": (402, "Insufficient funds"),
    "partner_suspended": (403, "Partner suspended"),
    "insufficient_role": (403, "Role not allowed"),
    "ip_not_allowed": (403, "Client address not allowed"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "not_acceptable": (406, "Not acceptable"),
    "reference_conflict": (409, "Reference already used"),
    "idempotency_in_progress": (409, "Request in progress"),
    "email_taken": (409, "Email already registered"),
    "invalid_state": (409, "Invalid state"),
    "payload_too_large": (413, "Payload too large"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "idempotency_key_reused": (422, "Idempotency key reused"),
    "product_not_available": (422, "Product not available"),
    "invalid_face_value": (422, "Invalid face value"),
    "price_above_expected_total": (422, "Price above expected total"),
    "price_below_cost": (422, "Price below cost"),
    "webhook_url_not_allowed": (422, "Webhook URL not allowed"),
    "rate_limited": (429, "Too many requests"),
    "internal_error": (500, "Internal error"),
    "service_unavailable": (503, "Service unavailable"),
}


class ProblemError(Exception):
    """Raise anywhere in the HTTP layer to answer with a problem document."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        if code not in CODES:
            raise ValueError(f"unknown problem code {code!r}")
        self.code = code
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return CODES[self.code][0]


def problem_body(
    *,
    code: str,
    detail: str,
    instance: str,
    request_id: str,
    errors: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    status, title = CODES[code]
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "requestId": request_id,
    }
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return body


def problem_response(
    request: Request | None,
    code: str,
    detail: str,
    *,
    errors: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    path: str | None = None,
    request_id: str | None = None,
) -> Response:
    """Build the problem+json response for `code` (the status comes from the code table)."""
    if request is not None:
        # The undecoded path, so `instance` stays a valid URI reference whatever was requested.
        raw = request.scope.get("raw_path")
        path = path or (raw.decode("latin-1") if raw else request.url.path)
        request_id = request_id or request.scope.get("state", {}).get("request_id", "")
    body = problem_body(
        code=code,
        detail=detail,
        instance=path or "",
        request_id=request_id or "",
        errors=errors,
    )
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=CODES[code][0],
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers or {}),
    )


def from_exception(request: Request, exc: ProblemError) -> Response:
    return problem_response(request, exc.code, exc.detail, errors=exc.errors, headers=exc.headers)
