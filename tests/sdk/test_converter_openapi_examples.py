"""Every example in openapi.yaml survives the model converter: structure into the generated
class, unstructure, and get the same JSON back; the strict converter accepts it too.

The tolerant converter's fast path (``models/_fastpath.py``) gives exactly what cattrs' own
functions give: the same models (types included), the same JSON back out, the same errors, for
every example and every model, and for variants of each with a field left out, null, or odd."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import cattrs
import pytest

from steller.models._converter import make_converter, structure_errors, wire_name

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


# -- the fast path (models/_fastpath.py) gives exactly what cattrs gives ---------------------------

MODELS = sorted(
    name
    for name, obj in vars(generated).items()
    if isinstance(obj, type)
    and dataclasses.is_dataclass(obj)
    and obj.__module__ == generated.__name__
)
# Values that take every branch of a conversion: the wire form, other JSON types, what the
# tolerant rules coerce (ints for strings, floats for money, naive datetimes), unknown enum
# values and what the converter refuses (NaN, bad dates, objects for scalars).
ODD_VALUES: list[Any] = [
    None, True, 0, 7, 1.5, "", "x", "7", "52.50", "1E+2", "NaN", "-Infinity", "2026-11-01",
    "2026-11-01T12:00:00", "2026-11-01T12:00:00.123Z", "2026-11-01T12:00:00+02:00",
    "not_a_known_value", [], ["x", 1], {}, {"a": 1},
]  # fmt: skip


def _sample(type_: Any) -> Any:
    """A valid JSON value for ``type_`` (the first enum member, one list item…)."""
    origin, args = typing.get_origin(type_), typing.get_args(type_)
    if origin in (types.UnionType, typing.Union):
        return _sample(next(a for a in args if a is not type(None)))
    if origin is list:
        return [_sample(args[0])]
    if origin is dict:
        return {"key": "value"}
    if origin is typing.Literal:
        return args[0]
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return next(iter(type_)).value
    if dataclasses.is_dataclass(type_):
        return _sample_model(type_)
    samples: dict[Any, Any] = {
        str: "s", int: 3, float: 2.5, bool: True, Decimal: "12.30", dt.date: "2026-11-01",
        dt.datetime: "2026-11-01T12:00:00.250Z", typing.Any: {"k": [1]},
    }  # fmt: skip
    return samples[type_]


def _sample_model(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {wire_name(f.name, f.metadata): _sample(hints[f.name]) for f in dataclasses.fields(cls)}


def _variants(cls: type, base: dict[str, Any]) -> Iterator[Any]:
    """``base`` itself, then with each field of ``cls`` left out and set to each odd value."""
    yield base
    for f in dataclasses.fields(cls):
        wire = wire_name(f.name, f.metadata)
        yield {k: v for k, v in base.items() if k != wire}
        for value in ODD_VALUES:
            yield {**base, wire: value}
    yield {**base, "fieldFromANewerServer": {"x": 1}}
    yield [base]
    yield "not an object"


def _snapshot(value: Any) -> Any:
    """``value`` with every type made visible (``==`` alone says Decimal("1.0") == 1)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        attributes = list(vars(value))  # the fast path may fill __dict__ itself: same order
        return (
            type(value).__name__,
            attributes,
            [(f.name, _snapshot(getattr(value, f.name))) for f in fields],
        )
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_snapshot(v) for v in value])
    if isinstance(value, dict):
        return ("dict", sorted((repr(k), _snapshot(v)) for k, v in value.items()))
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    return (type(value).__qualname__, repr(value))


def _outcome(conv: cattrs.Converter, data: Any, cls: Any) -> tuple[str, Any]:
    try:
        obj = conv.structure(data() if callable(data) else copy.deepcopy(data), cls)
    except Exception as exc:
        errors = structure_errors(exc) if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        return "error", (type(exc).__name__, errors)
    return "ok", (_snapshot(obj), json.dumps(conv.unstructure(obj), sort_keys=True))


@pytest.fixture(scope="module")
def fast_and_cattrs() -> tuple[cattrs.Converter, cattrs.Converter]:
    return make_converter(enum_modules=[generated]), make_converter(
        enum_modules=[generated], fast=False
    )


def test_only_the_tolerant_converter_takes_the_fast_path(fast_and_cattrs):
    fast, plain = fast_and_cattrs
    strict = make_converter(strict=True, enum_modules=[generated])

    def source(conv: cattrs.Converter) -> str:
        return str(conv.get_structure_hook(generated.CatalogProduct).__code__.co_filename)

    assert source(fast).startswith("<steller fast structure")
    assert not source(plain).startswith("<steller fast structure")
    assert not source(strict).startswith("<steller fast structure")


@pytest.mark.parametrize("where", sorted(CASES))
def test_fast_path_matches_cattrs_on_every_example_and_its_variants(where, fast_and_cattrs):
    name, example = CASES[where]
    cls = getattr(generated, name)
    fast, plain = fast_and_cattrs
    for data in _variants(cls, example):
        assert _outcome(fast, data, cls) == _outcome(plain, data, cls), data


@pytest.mark.parametrize("name", MODELS)
def test_fast_path_matches_cattrs_on_every_model(name, fast_and_cattrs):
    cls = getattr(generated, name)
    fast, plain = fast_and_cattrs
    base = _sample_model(cls)
    assert _outcome(fast, base, cls)[0] == "ok"
    for data in _variants(cls, base):
        assert _outcome(fast, data, cls) == _outcome(plain, data, cls), data


@pytest.mark.parametrize("name", MODELS)
def test_fast_list_of_models_matches_cattrs(name, fast_and_cattrs):
    cls = getattr(generated, name)
    fast, plain = fast_and_cattrs
    base = _sample_model(cls)
    for data in (
        [],
        [base, base],
        [base, {**base, "fieldFromANewerServer": 1}, "not an object", base],
        (base, base),
        lambda: iter([copy.deepcopy(base), "not an object"]),
        "not a list",
    ):
        assert _outcome(fast, data, list[cls]) == _outcome(plain, data, list[cls]), data


# -- the fast path's caches and copies ------------------------------------------------------------


class _Text(str):
    """A str subclass: equal to a cached decimal string, but not of the wire's exact class."""


def _decimal_models() -> list[str]:
    return [
        name
        for name in MODELS
        if Decimal in typing.get_type_hints(getattr(generated, name)).values()
    ]


@pytest.mark.parametrize("name", _decimal_models())
def test_decimal_cache_misses_and_hits_give_what_cattrs_gives(name, fast_and_cattrs, monkeypatch):
    from steller.models import _fastpath

    cls = getattr(generated, name)
    fast, plain = fast_and_cattrs
    monkeypatch.setattr(_fastpath, "_DECIMALS", {})
    monkeypatch.setattr(_fastpath, "_DECIMALS_MAX", 3)  # emptied while in use
    base = _sample_model(cls)
    money = [w for w, v in base.items() if v == _sample(Decimal)]
    assert money
    for value in ["52.50", "52.50", "1E+2", " 7 ", "1_000", "-0", _Text("52.50"), "NaN", "x"]:
        data = {**base, **dict.fromkeys(money, value)}
        for _ in range(2):  # a miss, then a hit for what may be cached
            assert _outcome(fast, data, cls) == _outcome(plain, data, cls), data
    assert 0 < len(_fastpath._DECIMALS) <= 3
    assert all(type(k) is str and v.is_finite() for k, v in _fastpath._DECIMALS.items())


def test_structured_string_lists_are_new_lists(fast_and_cattrs):
    fast, _ = fast_and_cattrs
    data = _sample_model(generated.CatalogProduct)
    product = fast.structure(data, generated.CatalogProduct)
    assert product.categories == data["categories"]
    assert product.categories is not data["categories"]
