"""Every example in openapi.yaml survives the model converter: structure into the generated
class, unstructure, and get the same JSON back; the strict converter accepts it too."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cattrs
import pytest

from steller.models._converter import make_converter, structure_errors

yaml = pytest.importorskip("yaml")
generated = pytest.importorskip("steller.models._generated")

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
if not SPEC_PATH.exists():
    pytest.skip("openapi.yaml not found", allow_module_level=True)
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def _ref(node: object) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return node["$ref"].rsplit("/", 1)[-1]
    return None


def _media_examples(where: str, content: dict[str, Any] | None) -> Iterator[tuple[str, str, Any]]:
    for media_type, media in (content or {}).items():
        name = _ref(media.get("schema"))
        if "json" not in media_type or name is None:
            continue
        if "example" in media:
            yield where, name, media["example"]
        for key, example in (media.get("examples") or {}).items():
            if "value" in example:
                yield f"{where} {key}", name, example["value"]


def _examples() -> Iterator[tuple[str, str, Any]]:
    components = SPEC.get("components", {})
    for path, item in SPEC.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            body = op.get("requestBody") or {}
            body = components.get("requestBodies", {}).get(_ref(body), body)
            yield from _media_examples(f"{method.upper()} {path} request", body.get("content"))
            for status, response_or_ref in (op.get("responses") or {}).items():
                ref = _ref(response_or_ref)
                response = components.get("responses", {}).get(ref, response_or_ref)
                where = f"{method.upper()} {path} {status}"
                yield from _media_examples(where, response.get("content"))
    for name, schema in components.get("schemas", {}).items():
        for i, example in enumerate(schema.get("examples") or []):
            yield f"schema {name}[{i}]", name, example


def _unique_cases() -> dict[str, tuple[str, Any]]:
    # Shared responses (problems, pages) repeat on many routes: test each distinct one once.
    cases: dict[str, tuple[str, Any]] = {}
    seen: set[tuple[str, str]] = set()
    for where, name, value in _examples():
        if not isinstance(getattr(generated, name, None), type) or not isinstance(value, dict):
            continue
        key = (name, json.dumps(value, sort_keys=True))
        if key not in seen:
            seen.add(key)
            cases[where] = (name, value)
    return cases


CASES = _unique_cases()


@pytest.fixture(scope="module")
def converters() -> tuple[cattrs.Converter, cattrs.Converter]:
    return (
        make_converter(enum_modules=[generated]),
        make_converter(strict=True, enum_modules=[generated]),
    )


@pytest.mark.parametrize("where", sorted(CASES))
def test_example_round_trips_through_the_generated_model(where, converters):
    name, example = CASES[where]
    cls = getattr(generated, name)
    lenient, strict = converters
    try:
        out = lenient.unstructure(lenient.structure(copy.deepcopy(example), cls))
        strict.structure(copy.deepcopy(example), cls)
    except cattrs.BaseValidationError as exc:
        pytest.fail(f"{name}: {structure_errors(exc)}")
    assert json.dumps(out, sort_keys=True) == json.dumps(example, sort_keys=True)
