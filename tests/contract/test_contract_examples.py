"""The contract's examples are valid, and its request schemas are strict.

Every ``example``/``examples`` in ``openapi.yaml`` (media types, parameters, headers and schema
``examples``) must validate against the schema beside it, because the SDK round-trips them through
its generated models and the docs show them to partners. Every request object must reject unknown
fields (``additionalProperties: false``), and every operation must carry the shared headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
BASE_URI = "urn:steller:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Request schemas that describe someone else's payload and must stay open (see their description).
OPEN_REQUEST_MARKER = "x-steller-vendor-payload"

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
REGISTRY: Registry[Any] = Registry().with_resource(
    BASE_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)

FORMATS = FormatChecker()


def _is_decimal(value: object) -> bool:
    return not isinstance(value, str) or Decimal(value).is_finite()


FORMATS.checks("decimal", raises=(InvalidOperation, ValueError))(_is_decimal)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str | int) -> str:
    return "".join(f"/{_escape(str(t))}" for t in tokens)


def _resolve(node: Any) -> Any:
    """Follow local ``$ref``s of the OpenAPI document (components, not JSON Schema)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local refs are expected, got {ref}"
        node = SPEC
        for token in ref[2:].split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        seen += 1
    return node


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(pointer, label, operation) for every path and webhook operation."""
    for section in ("paths", "webhooks"):
        for key, item in (SPEC.get(section) or {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    yield _pointer(section, key, method), f"{method.upper()} {key}", item[method]


def _schema_examples(schema: Any, ptr: str) -> Iterator[tuple[str, str, Any]]:
    """Walk a JSON Schema and yield its own ``examples``/``example`` with the schema's pointer."""
    if not isinstance(schema, dict):
        return
    for i, value in enumerate(schema.get("examples") or []):
        yield f"{ptr}/examples/{i}", ptr, value
    if "example" in schema:
        yield f"{ptr}/example", ptr, schema["example"]
    for keyword in ("properties", "patternProperties", "$defs", "dependentSchemas"):
        for name, sub in (schema.get(keyword) or {}).items():
            yield from _schema_examples(sub, f"{ptr}/{keyword}/{_escape(name)}")
    for keyword in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
        if isinstance(schema.get(keyword), dict):
            yield from _schema_examples(schema[keyword], f"{ptr}/{keyword}")
    for keyword in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for i, sub in enumerate(schema.get(keyword) or []):
            yield from _schema_examples(sub, f"{ptr}/{keyword}/{i}")


def _holder_examples(holder: dict[str, Any], ptr: str) -> Iterator[tuple[str, str, Any]]:
    """Examples of a media type, parameter or header object (``example`` or ``examples`` map)."""
    if "schema" not in holder:
        return
    schema_ptr = f"{ptr}/schema"
    if "example" in holder:
        yield f"{ptr}/example", schema_ptr, holder["example"]
    for name, entry in (holder.get("examples") or {}).items():
        resolved = _resolve(entry)
        if "value" in resolved:
            yield f"{ptr}/examples/{_escape(name)}/value", schema_ptr, resolved["value"]
    yield from _schema_examples(holder["schema"], schema_ptr)


def _response_examples(response: dict[str, Any], ptr: str) -> Iterator[tuple[str, str, Any]]:
    for name, header in (response.get("headers") or {}).items():
        if "$ref" not in header:
            yield from _holder_examples(header, f"{ptr}/headers/{_escape(name)}")
    for media, obj in (response.get("content") or {}).items():
        yield from _holder_examples(obj, f"{ptr}/content/{_escape(media)}")


def _all_examples() -> Iterator[tuple[str, str, Any]]:
    """(example pointer, schema pointer, value) for every example of the document."""
    components = SPEC.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        yield from _schema_examples(schema, _pointer("components", "schemas", name))
    for kind in ("parameters", "headers"):
        for name, holder in (components.get(kind) or {}).items():
            yield from _holder_examples(holder, _pointer("components", kind, name))
    for name, response in (components.get("responses") or {}).items():
        yield from _response_examples(response, _pointer("components", "responses", name))
    for name, body in (components.get("requestBodies") or {}).items():
        for media, obj in (body.get("content") or {}).items():
            yield from _holder_examples(
                obj, _pointer("components", "requestBodies", name, "content", media)
            )
    for op_ptr, _, op in _operations():
        for i, param in enumerate(op.get("parameters") or []):
            if "$ref" not in param:
                yield from _holder_examples(param, f"{op_ptr}/parameters/{i}")
        body = op.get("requestBody") or {}
        for media, obj in (body.get("content") or {}).items():
            yield from _holder_examples(obj, f"{op_ptr}/requestBody/content/{_escape(media)}")
        for status, response in (op.get("responses") or {}).items():
            if "$ref" not in response:
                yield from _response_examples(response, f"{op_ptr}/responses/{status}")


EXAMPLES = list(_all_examples())


def test_the_document_has_examples_to_check() -> None:
    assert len(EXAMPLES) > 100


@pytest.mark.parametrize(
    ("example_ptr", "schema_ptr", "value"), EXAMPLES, ids=[e[0] for e in EXAMPLES]
)
def test_example_validates_against_its_schema(
    example_ptr: str, schema_ptr: str, value: Any
) -> None:
    validator = Draft202012Validator(
        {"$ref": f"{BASE_URI}#{schema_ptr}"}, registry=REGISTRY, format_checker=FORMATS
    )
    errors = [
        f"{'/' + '/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(value)
    ]
    assert not errors, f"{example_ptr} does not match {schema_ptr}:\n" + "\n".join(errors)


def _request_objects(
    schema: Any, where: str, seen: set[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from a request body schema (through refs and combinators)."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return
        seen.add(ref)
        yield from _request_objects(_resolve({"$ref": ref}), ref, seen)
    if schema.get("type") == "object" or "properties" in schema:
        yield where, schema
    for sub in (schema.get("properties") or {}).values():
        yield from _request_objects(sub, where, seen)
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            yield from _request_objects(schema[keyword], where, seen)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword) or []:
            yield from _request_objects(sub, where, seen)


def _request_bodies() -> Iterator[tuple[str, dict[str, Any]]]:
    for _, label, op in _operations():
        body = _resolve(op.get("requestBody") or {})
        for media, obj in (body.get("content") or {}).items():
            yield f"{label} {media}", obj


REQUEST_BODIES = list(_request_bodies())
# Webhook payloads are sent by Steller (response-like, open to additions): only paths are strict.
PATH_REQUEST_BODIES = [
    (label, obj) for label, obj in REQUEST_BODIES if label.split(" ")[1].startswith("/")
]


@pytest.mark.parametrize(
    ("label", "media"), PATH_REQUEST_BODIES, ids=[b[0] for b in PATH_REQUEST_BODIES]
)
def test_request_objects_reject_unknown_fields(label: str, media: dict[str, Any]) -> None:
    open_objects = [
        where
        for where, obj in _request_objects(media["schema"], label, set())
        if obj.get("additionalProperties") is not False and not obj.get(OPEN_REQUEST_MARKER)
    ]
    assert not open_objects, f"{label}: objects without additionalProperties: false: {open_objects}"


@pytest.mark.parametrize(("label", "media"), REQUEST_BODIES, ids=[b[0] for b in REQUEST_BODIES])
def test_every_request_body_has_an_example(label: str, media: dict[str, Any]) -> None:
    assert "example" in media or media.get("examples"), f"{label}: request body without example"


def _success_contents() -> Iterator[tuple[str, dict[str, Any]]]:
    for _, label, op in _operations():
        for status, response in (op.get("responses") or {}).items():
            if not str(status).startswith("2"):
                continue
            for media, obj in (_resolve(response).get("content") or {}).items():
                yield f"{label} {status} {media}", obj


SUCCESS_CONTENTS = list(_success_contents())


@pytest.mark.parametrize(("label", "media"), SUCCESS_CONTENTS, ids=[s[0] for s in SUCCESS_CONTENTS])
def test_every_success_response_has_an_example(label: str, media: dict[str, Any]) -> None:
    assert "example" in media or media.get("examples"), f"{label}: success response without example"


def _problem_examples() -> Iterator[tuple[str, int, Any]]:
    for _, label, op in _operations():
        for status, response in (op.get("responses") or {}).items():
            if not str(status).isdigit():
                continue
            media = (_resolve(response).get("content") or {}).get("application/problem+json")
            if not media:
                continue
            values = [media["example"]] if "example" in media else []
            values += [_resolve(e)["value"] for e in (media.get("examples") or {}).values()]
            for value in values:
                yield f"{label} {status} {value.get('code')}", int(status), value


PROBLEM_EXAMPLES = list(_problem_examples())


@pytest.mark.parametrize(
    ("label", "status", "problem"), PROBLEM_EXAMPLES, ids=[p[0] for p in PROBLEM_EXAMPLES]
)
def test_problem_examples_match_the_status_they_are_listed_under(
    label: str, status: int, problem: dict[str, Any]
) -> None:
    assert problem["status"] == status, label
    assert problem["type"].endswith("/" + problem["code"]), label


def test_error_responses_are_problem_details() -> None:
    for _, label, op in _operations():
        for status, response in (op.get("responses") or {}).items():
            # Readiness answers 503 with its own Readiness body, by design.
            is_error = str(status).isdigit() and str(status)[0] in "45"
            if is_error and label != "GET /api/health/ready":
                content = _resolve(response).get("content") or {}
                assert list(content) == ["application/problem+json"], f"{label} {status}"


# POSTs whose responses are never stored for replay: a login answer holds a fresh bearer token,
# which Steller never keeps in clear, so every call is a new login.
NEVER_REPLAYED = {"POST /api/admin/login"}
# POSTs outside the Idempotency-Key layer: the vendor's callback is idempotent by nature (it only
# schedules another poll) and Bamboo sends no such header.
NO_IDEMPOTENCY_KEY = {"POST /api/vendor/bamboo/notification"}
PATH_OPERATIONS = [(label, op) for ptr, label, op in _operations() if ptr.startswith("/paths/")]


@pytest.mark.parametrize(("label", "op"), PATH_OPERATIONS, ids=[o[0] for o in PATH_OPERATIONS])
def test_operation_carries_the_shared_headers(label: str, op: dict[str, Any]) -> None:
    refs = {p.get("$ref") for p in op.get("parameters") or []}
    assert "#/components/parameters/XRequestId" in refs, label
    assert "#/components/parameters/StellerVersion" in refs, label
    if label.startswith("POST ") and label not in NO_IDEMPOTENCY_KEY:
        assert "#/components/parameters/IdempotencyKey" in refs, label
    assert op.get("operationId"), label
    assert len(op.get("tags") or []) == 1, label
    assert "security" in op, f"{label}: security must be explicit per operation"
    for status, response in op["responses"].items():
        headers = _resolve(response).get("headers") or {}
        assert {"X-Request-Id", "Steller-Version"} <= set(headers), f"{label} {status}"
        replayable = label not in NEVER_REPLAYED | NO_IDEMPOTENCY_KEY
        if label.startswith("POST ") and str(status).startswith("2") and replayable:
            assert "Idempotent-Replayed" in headers, f"{label} {status}"


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


SHARED_COMPONENTS = {
    "securitySchemes": ["PartnerApiKey", "AdminBearer"],
    "parameters": [
        "IdempotencyKey",
        "XRequestId",
        "StellerVersion",
        "Limit",
        "Cursor",
        "From",
        "To",
    ],
    "headers": [
        "XRequestId",
        "StellerVersion",
        "RateLimitPolicy",
        "RateLimit",
        "RetryAfter",
        "IdempotentReplayed",
        "Deprecation",
        "Sunset",
    ],
    "responses": [
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "UnprocessableEntity",
        "TooManyRequests",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "InsufficientFunds",
        "ServiceUnavailable",
        "InternalError",
    ],
    "schemas": [
        "Problem",
        "ProblemCode",
        "ValidationErrorItem",
        "Amount",
        "Currency",
        "Partner",
        "NotificationSettings",
        "ApiKey",
        "ApiKeyRole",
        "ApiKeyStatus",
        "CreatedApiKey",
        "Order",
        "OrderStatus",
        "Card",
        "Wallet",
        "LedgerEntry",
        "LedgerEntryType",
        "Event",
        "EventType",
        "DeliveryAttempt",
        "Incident",
        "IncidentStatus",
        "IncidentImpact",
        "StatusComponentId",
        "OrderPage",
        "LedgerEntryPage",
        "ApiKeyPage",
        "EventPage",
        "CatalogPage",
        "RequestLogPage",
    ],
}


@pytest.mark.parametrize("kind", sorted(SHARED_COMPONENTS))
def test_shared_components_keep_their_names(kind: str) -> None:
    """The admin fragment references these by name; renaming one breaks the splice."""
    missing = set(SHARED_COMPONENTS[kind]) - set(SPEC["components"].get(kind) or {})
    assert not missing


def test_every_event_type_has_a_webhook_entry() -> None:
    event_types = SPEC["components"]["schemas"]["EventType"]["enum"]
    assert sorted(SPEC.get("webhooks") or {}) == sorted(event_types)
    for event_type, item in SPEC["webhooks"].items():
        schema = _resolve(item["post"]["requestBody"]["content"]["application/json"]["schema"])
        assert schema["properties"]["type"]["const"] == event_type


def test_every_refed_component_exists() -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in set(refs(SPEC)):
        assert _resolve({"$ref": ref}) is not None, ref


CODED_OPERATIONS = [(label, op) for label, op in PATH_OPERATIONS if "x-steller-problem-codes" in op]


@pytest.mark.parametrize(("label", "op"), CODED_OPERATIONS, ids=[o[0] for o in CODED_OPERATIONS])
def test_declared_problem_codes_match_the_responses(label: str, op: dict[str, Any]) -> None:
    """``x-steller-problem-codes`` lists, per status, the codes the operation may answer with."""
    known = set(SPEC["components"]["schemas"]["ProblemCode"]["enum"])
    declared: dict[str, list[str]] = op["x-steller-problem-codes"]
    problem_statuses = {
        status
        for status, response in op["responses"].items()
        if "application/problem+json" in (_resolve(response).get("content") or {})
    }
    assert set(declared) == problem_statuses, label
    for status, codes in declared.items():
        assert codes, f"{label} {status}"
        assert set(codes) <= known, f"{label} {status}: {set(codes) - known}"


ROLED_OPERATIONS = [(label, op) for label, op in PATH_OPERATIONS if "x-steller-roles" in op]


@pytest.mark.parametrize(("label", "op"), ROLED_OPERATIONS, ids=[o[0] for o in ROLED_OPERATIONS])
def test_declared_roles_match_the_security_requirement(label: str, op: dict[str, Any]) -> None:
    """``x-steller-roles`` names the roles allowed by the operation's security scheme."""
    roles = set(op["x-steller-roles"])
    schemes = {name for requirement in op["security"] for name in requirement}
    if not schemes:
        assert not roles, f"{label}: anonymous routes have no roles"
        return
    enum_name, top_role = ("ApiKeyRole", "developer")
    if "AdminBearer" in schemes:
        enum_name, top_role = ("AdminRole", "admin")
    allowed = set(SPEC["components"]["schemas"].get(enum_name, {}).get("enum") or [top_role])
    assert roles <= allowed, f"{label}: {roles - allowed}"
    assert top_role in roles, f"{label}: {top_role} may call everything"
