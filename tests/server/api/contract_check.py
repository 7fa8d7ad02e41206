"""Check a real response against openapi.yaml: the status is documented and the body conforms."""

from __future__ import annotations

import functools
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from steller_server.api.contract import Contract


@functools.cache
def _contract() -> Contract:
    return Contract.load()


def _operation(operation_id: str) -> dict[str, Any]:
    spec = _contract().spec
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise LookupError(operation_id)


def _resolve(obj: dict[str, Any]) -> dict[str, Any]:
    spec = _contract().spec
    while "$ref" in obj:
        node: Any = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def assert_conforms(response: httpx.Response, operation_id: str) -> None:
    """Fail unless `response` is one the contract documents for `operation_id`."""
    op = _operation(operation_id)
    status = str(response.status_code)
    documented = op["responses"].get(status) or op["responses"].get(f"{status[0]}XX")
    assert documented is not None, (
        f"{operation_id} answered {status}, which openapi.yaml does not document: {response.text}"
    )
    documented = _resolve(documented)
    content = documented.get("content")
    if not content:
        assert not response.content, f"{operation_id} {status} documents no body"
        return
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media in content, f"{operation_id} {status}: {media!r} not in {sorted(content)}"
    schema = content[media].get("schema")
    if schema is None or not media.endswith("json"):
        return
    contract = _contract()
    validator = Draft202012Validator(
        contract._rebase(schema),
        registry=contract._registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, f"{operation_id} {status} body violates the contract: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )
