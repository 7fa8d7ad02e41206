"""Generate docs/errors.md from openapi.yaml: every problem `code`, what it means, what to do.

    python tools/generate_error_docs.py            # write docs/errors.md
    python tools/generate_error_docs.py --check    # exit 1 if docs/errors.md is stale

Sources, all in openapi.yaml:

* the `ProblemCode` enum (the codes, in contract order);
* the error table in `info.description` (status and meaning of each code);
* the shared `components/responses` (the example `title` of each code);
* each operation's `x-steller-problem-codes` (which partner and public operations return it).
  Admin operations do not carry that extension yet; a code no operation lists is indexed by the
  admin operations that declare its HTTP status.

The advice ("what to do") and the retry classification live here, in `ADVICE`; a code in the
enum without advice fails the generation, so a new code cannot ship undocumented. The SDK
exception class comes from the SDK's own status/code mapping.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
TARGET = ROOT / "docs" / "errors.md"
METHODS = ("get", "post", "put", "patch", "delete")

# retry: "no" (fix the request or the account first), "yes" (same request later, same
# Idempotency-Key), "wait" (after Retry-After).
ADVICE: Mapping[str, tuple[str, str]] = {
    "validation_failed": (
        "no",
        "Fix the request. `errors[]` names every bad field by JSON pointer (`/quantity`, "
        "`/header/Idempotency-Key`, `/query/limit`) with a message; unknown fields are refused "
        "too, so check spelling and camelCase. Nothing was stored, so the corrected request may "
        "reuse the same `Idempotency-Key`.",
    ),
    "invalid_cursor": (
        "no",
        "Restart the listing from the first page. Pass `nextCursor` back exactly as received, "
        "with the same filters; cursors are opaque and not portable between endpoints.",
    ),
    "unsupported_version": (
        "no",
        "Send a known `Steller-Version` (see the versioning section of the integration guide) "
        "or omit the header to use your pinned version.",
    ),
    "unauthenticated": (
        "no",
        "Send your API key in the `x-api-key` header (admin routes: `Authorization: Bearer "
        "<token>`). Check that a proxy does not strip the header.",
    ),
    "invalid_api_key": (
        "no",
        "The key is unknown, revoked or expired (one answer for all three). Check you use the "
        "key of the right environment (`stlr_test_` for sandbox, `stlr_live_` for live); after "
        "a rotation switch to the new key before the grace period ends. Do not retry in a loop.",
    ),
    "invalid_token": (
        "no",
        "The admin session expired or was logged out: log in again with `POST /api/admin/login`.",
    ),
    "invalid_credentials": (
        "no",
        "Wrong email or password, or a disabled admin user. Logins are throttled "
        "(10/min per address): do not retry automatically.",
    ),
    "invalid_vendor_secret": (
        "no",
        "Only the vendor calls this route. Check `STELLER_BAMBOO_NOTIFICATION_SECRET` matches "
        "the `secretKey` configured at the vendor.",
    ),
    "insufficient_funds": (
        "no",
        "Nothing was charged or written. Top up the wallet (ask your Steller contact; watch "
        "`wallet.low_balance` events) or order less. `POST /api/orders/quote` tells you "
        "`sufficientFunds` before you order. Retry the same `referenceId` once funded.",
    ),
    "partner_suspended": (
        "no",
        "Your account is suspended: every call is refused until Steller reactivates it. Contact "
        "support with the `requestId`.",
    ),
    "insufficient_role": (
        "no",
        "The key's role does not allow this route (`ordering` cannot manage keys or webhooks; "
        "`finance` is read-only). Use a `developer` key, or ask for a key with the right role.",
    ),
    "ip_not_allowed": (
        "no",
        "The key has an IP allowlist and the call came from another address. Call from an "
        "allowed address or rotate the key with an updated `ipAllowlist`.",
    ),
    "not_found": (
        "no",
        "The id does not exist or belongs to another partner (never a 403, so ids leak "
        "nothing). Check the id and the environment; for an order you lost track of, list "
        "`GET /api/orders?referenceId=…`.",
    ),
    "method_not_allowed": (
        "no",
        "The path exists with other methods; the `Allow` header lists them. Any path can "
        "answer it.",
    ),
    "not_acceptable": (
        "no",
        "Ask for a representation the route serves: `Accept: application/json` or "
        "`Accept: text/csv` for statements and exports.",
    ),
    "reference_conflict": (
        "no",
        "This `referenceId` was already used for an order with a different body. If it is the "
        "same purchase, resend the original body (you get the existing order, no second "
        "debit); if it is a new purchase, use a new `referenceId`.",
    ),
    "idempotency_in_progress": (
        "yes",
        "The first request with this `Idempotency-Key` is still running. Retry the same request "
        "with the same key after a short, jittered delay; you then get its stored response.",
    ),
    "email_taken": (
        "no",
        "An account already uses this email. Sign in with your existing key (or rotate it); "
        "ask support to recover access.",
    ),
    "invalid_state": (
        "no",
        "The resource is not in a state that allows this action: a test event, a secret "
        "rotation or a redelivery with no webhook endpoint configured (or a disabled one); an "
        "admin cancelling an order that is already final. Read the resource, then act on its "
        "current state.",
    ),
    "payload_too_large": (
        "no",
        "The body is over the size cap (64 KiB by default). Send smaller requests; orders are "
        "one line each.",
    ),
    "unsupported_media_type": (
        "no",
        "Send `Content-Type: application/json` with a JSON body.",
    ),
    "idempotency_key_reused": (
        "no",
        "This `Idempotency-Key` was used for a different request (method, route or body). "
        "Generate a new key for every new operation; reuse a key only to retry the very same "
        "request.",
    ),
    "product_not_available": (
        "no",
        "The SKU is unknown, not approved for you, inactive or out of stock. Refresh your "
        "catalog (`GET /api/brand/getCatalog`, check `inStock`) and offer another product.",
    ),
    "invalid_face_value": (
        "no",
        "The face value is outside the product's denominations: a fixed product is sold only at "
        "`minFaceValue`; a range product between `minFaceValue` and `maxFaceValue`.",
    ),
    "price_above_expected_total": (
        "no",
        "The price changed since you showed it (FX or a new discount) and is above your "
        "`expectedTotal`. Nothing was charged. Quote again, show the new total, and resend "
        "with the new `expectedTotal` (and a new `referenceId` if your flow needs it).",
    ),
    "price_below_cost": (
        "no",
        "Profit guard: at this discount the price would fall below vendor cost plus the "
        "per-order fee. Partners: the product cannot be sold at the moment; contact Steller. "
        "Admins: lower the discount; `errors[]` names each refused entry.",
    ),
    "webhook_url_not_allowed": (
        "no",
        "Live mode accepts only https URLs that resolve to public addresses (no loopback, "
        "private, link-local or metadata addresses). Use a public https endpoint.",
    ),
    "rate_limited": (
        "wait",
        "Wait `Retry-After` seconds, then retry with jittered exponential backoff; keep the "
        "same `Idempotency-Key` for writes. Watch the `RateLimit` header to slow down before "
        "you hit the limit. The SDK does this for you.",
    ),
    "internal_error": (
        "yes",
        "A bug on Steller's side. Writes with an `Idempotency-Key` are safe to retry; if it "
        "persists, contact support with the `requestId`.",
    ),
    "service_unavailable": (
        "wait",
        "A dependency is briefly unavailable. Retry after `Retry-After` seconds with the same "
        "`Idempotency-Key`; check `GET /api/status`.",
    ),
}

RETRY_TEXT = {
    "no": "no: fix the request or the account first",
    "yes": "yes: the same request with the same `Idempotency-Key`",
    "wait": "yes, after `Retry-After` seconds, with the same `Idempotency-Key`",
}


@dataclass(frozen=True)
class CodeDoc:
    code: str
    status: int
    title: str
    meaning: str
    retry: str
    advice: str
    exception: str
    operations: list[str]
    admin_fallback: bool


def _meanings(description: str) -> dict[str, tuple[int, str]]:
    """The `| status | `code` | meaning |` rows of the error table in info.description."""
    found: dict[str, tuple[int, str]] = {}
    for match in re.finditer(
        r"^\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|\s*(.+?)\s*\|\s*$", description, flags=re.MULTILINE
    ):
        found[match.group(2)] = (int(match.group(1)), match.group(3))
    return found


def _titles(spec: Mapping[str, Any]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for response in spec["components"]["responses"].values():
        content = response.get("content", {}).get("application/problem+json", {})
        examples = [e["value"] for e in content.get("examples", {}).values()]
        if "example" in content:
            examples.append(content["example"])
        for example in examples:
            if isinstance(example, dict) and "code" in example:
                titles.setdefault(example["code"], example.get("title", ""))
    return titles


def _operations(spec: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                ops.append((method.upper(), path, item[method]))
    return ops


def _exception_name(status: int, code: str) -> str:
    from steller._errors import _error_class  # noqa: PLC0415 - the SDK is optional for --help

    return "steller." + _error_class(status, code).__name__


def collect(spec: Mapping[str, Any]) -> list[CodeDoc]:
    enum: list[str] = spec["components"]["schemas"]["ProblemCode"]["enum"]
    meanings = _meanings(spec["info"]["description"])
    titles = _titles(spec)
    ops = _operations(spec)
    missing = [c for c in enum if c not in ADVICE]
    if missing:
        raise SystemExit(f"tools/generate_error_docs.py: no ADVICE for {', '.join(missing)}")
    unmeant = [c for c in enum if c not in meanings]
    if unmeant:
        raise SystemExit(f"openapi.yaml info.description error table lacks {', '.join(unmeant)}")
    docs = []
    for code in enum:
        status, meaning = meanings[code]
        listed = [
            f"`{method} {path}` ({op['operationId']})"
            for method, path, op in ops
            if code in (op.get("x-steller-problem-codes") or {}).get(str(status), [])
        ]
        fallback = False
        if not listed:
            fallback = True
            listed = [
                f"`{method} {path}` ({op['operationId']})"
                for method, path, op in ops
                if "x-steller-problem-codes" not in op and str(status) in op.get("responses", {})
            ]
        retry, advice = ADVICE[code]
        docs.append(
            CodeDoc(
                code,
                status,
                titles.get(code, ""),
                meaning,
                retry,
                advice,
                _exception_name(status, code),
                listed,
                fallback,
            )
        )
    return docs


def render(spec: Mapping[str, Any]) -> str:
    docs = collect(spec)
    version = spec["info"]["version"]
    out = [
        "<!-- Generated by tools/generate_error_docs.py from openapi.yaml. Do not edit: run",
        "     `python tools/generate_error_docs.py` (a test fails when this file is stale). -->",
        "",
        "# Error codes",
        "",
        f"Every error from the Steller API (version {version}) is an RFC 9457 "
        "`application/problem+json` document:",
        "",
        "```json",
        "{",
        '  "type": "https://docs.steller.dev/errors/insufficient_funds",',
        '  "title": "Insufficient funds",',
        '  "status": 402,',
        '  "detail": "wallet balance is below 52.50 USD",',
        '  "instance": "/api/orders",',
        '  "code": "insufficient_funds",',
        '  "requestId": "req_8Zt2Lq4Wm9Xc3Vb7"',
        "}",
        "```",
        "",
        "Branch on `code` (stable, snake_case), never on `title` or `detail` (human text that "
        "may change). Validation errors add `errors: [{pointer, message}]`. Quote `requestId` "
        "(also in the `X-Request-Id` header) to support. New codes may be added: treat an "
        "unknown code by its HTTP status. The Python SDK raises the exception class listed "
        "for each code (all subclasses of `steller.APIStatusError`, with `.code`, `.detail`, "
        "`.errors`, `.request_id`).",
        "",
        "| status | code | retry? | SDK exception |",
        "|---|---|---|---|",
    ]
    for doc in docs:
        out.append(
            f"| {doc.status} | [`{doc.code}`](#{doc.code}) | {doc.retry} | `{doc.exception}` |"
        )
    out += [
        "",
        "*retry?* `no`: fix the request or the account first; `yes`: the same request with the "
        "same `Idempotency-Key`; `wait`: the same, after `Retry-After` seconds.",
        "",
    ]
    for doc in docs:
        out += [
            f'<a id="{doc.code}"></a>',
            "",
            f"## `{doc.code}`",
            "",
            f"**{doc.status} {doc.title}.** {doc.meaning[0].upper()}{doc.meaning[1:]}.",
            "",
            f"**What to do.** {doc.advice}",
            "",
            f"**Retry:** {RETRY_TEXT[doc.retry]}. **SDK:** `{doc.exception}`.",
            "",
        ]
        if doc.operations:
            label = (
                "Admin operations that declare this status" if doc.admin_fallback else "Returned by"
            )
            out.append(f"{label}:")
            out.append("")
            out += [f"- {op}" for op in doc.operations]
            out.append("")
        else:
            out += ["Returned by: any operation.", ""]
    return "\n".join(out).rstrip() + "\n"


def load_spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster when present
    spec: dict[str, Any] = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/errors.md is stale")
    args = parser.parse_args(argv)
    text = render(load_spec())
    if args.check:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            sys.stderr.write("docs/errors.md is stale: run `python tools/generate_error_docs.py`\n")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
