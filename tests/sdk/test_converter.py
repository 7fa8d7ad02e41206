"""The wire rules of the model converter (steller/models/_converter.py), checked on classes
shaped like datamodel-code-generator output: dataclasses (kw_only, camelCase or snake_case
fields, ``from_`` for keywords) and attrs classes, with StrEnum, Decimal, datetime, date, UUID,
nested objects, lists, optional and required-nullable fields."""

from __future__ import annotations

import copy
import datetime as dt
import enum
import json
import types
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import attrs
import cattrs
import pytest

from steller.models._converter import make_converter, register_enums, structure_errors, wire_name

# -- classes as the generator writes them -------------------------------------------------------


class OrderStatus(enum.StrEnum):
    processing = "processing"
    completed = "completed"
    failed = "failed"


class CardKind(enum.StrEnum):
    code = "code"
    url = "url"


@dataclass(kw_only=True)
class Card:
    code: str
    kind: CardKind
    pin: str | None = None
    expiresOn: dt.date | None = None


@dataclass(kw_only=True)
class Order:
    id: str
    status: OrderStatus
    faceValue: Decimal
    total: Decimal
    createdAt: dt.datetime
    cards: list[Card]
    completedAt: dt.datetime | None  # required and nullable
    expectedTotal: Decimal | None = None  # optional
    quantity: int | None = 1  # optional with a schema default
    tags: list[str] | None = field(default_factory=list)
    from_: str | None = None  # "from" is a keyword
    requestUuid: UUID | None = None
    metadata: dict[str, Any] | None = None


@dataclass(kw_only=True)
class SnakeOrder:  # --snake-case-field output: no alias metadata, snake_case names
    id: str
    face_value: Decimal
    created_at: dt.datetime
    completed_at: dt.datetime | None
    reference_id: str | None = None


@attrs.define(kw_only=True)
class AttrsCard:
    code: str
    kind: CardKind
    pin: str | None = None


@attrs.define(kw_only=True)
class AttrsOrder:  # the attrs template: @attrs.define and attrs.field(factory=...)
    id: str
    status: OrderStatus
    total: Decimal
    createdAt: dt.datetime
    cards: list[AttrsCard]
    note: str | None
    expectedTotal: Decimal | None = None
    tags: list[str] = attrs.field(factory=list)


@dataclass(kw_only=True)
class Aliased:
    value: int = field(metadata={"alias": "x-value"})


@dataclass(kw_only=True)
class CreditEvent:
    type: Literal["wallet.credited"]
    amount: Decimal


@dataclass(kw_only=True)
class OrderEvent:
    type: Literal["order.completed"]
    orderId: str


@dataclass(kw_only=True)
class Mixed:
    value: str | int | None = None


GENERATED = types.ModuleType(__name__)
GENERATED.OrderStatus = OrderStatus  # type: ignore[attr-defined]
GENERATED.CardKind = CardKind  # type: ignore[attr-defined]
GENERATED.Card = Card  # type: ignore[attr-defined]
GENERATED.Decimal = Decimal  # imported names are not enums of this module: ignored


@pytest.fixture
def conv() -> cattrs.Converter:
    return make_converter(enum_modules=[GENERATED])


@pytest.fixture
def strict() -> cattrs.Converter:
    return make_converter(strict=True, enum_modules=[GENERATED])


ORDER_JSON: dict[str, Any] = {
    "id": "ord_1",
    "status": "completed",
    "faceValue": "50.00",
    "total": "52.50",
    "createdAt": "2025-03-01T12:00:00Z",
    "cards": [
        {"code": "ABCD-1234", "kind": "code", "pin": "9999", "expiresOn": "2026-03-01"},
        {"code": "https://r.example/x", "kind": "url", "pin": None},
    ],
    "completedAt": None,
    "quantity": 1,
    "tags": [],
    "from": "api",
    "requestUuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "metadata": {"nested": {"any": ["json", 1, 2.5, None]}},
}


# -- round trips --------------------------------------------------------------------------------


def test_structure_gives_typed_values(conv):
    order = conv.structure(ORDER_JSON, Order)
    assert order.status is OrderStatus.completed
    assert order.total == Decimal("52.50")
    assert order.createdAt == dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    assert order.cards[0] == Card(
        code="ABCD-1234", kind=CardKind.code, pin="9999", expiresOn=dt.date(2026, 3, 1)
    )
    assert order.from_ == "api"
    assert order.requestUuid == UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert order.completedAt is None


@pytest.mark.parametrize(
    "example",
    [
        ORDER_JSON,
        {**ORDER_JSON, "completedAt": "2025-03-01T12:00:07.250Z", "expectedTotal": "53.00"},
        {**ORDER_JSON, "createdAt": "2025-03-01T14:00:00.123456+02:00"},
        {**ORDER_JSON, "total": "100", "faceValue": "0.10", "quantity": 3},
        {k: v for k, v in ORDER_JSON.items() if k not in ("from", "requestUuid", "metadata")},
        {k: v for k, v in ORDER_JSON.items() if k not in ("quantity", "tags")},
        {**ORDER_JSON, "expectedTotal": None, "from": None, "tags": None},
    ],
)
def test_structure_then_unstructure_returns_the_same_json(conv, example):
    out = conv.unstructure(conv.structure(copy.deepcopy(example), Order))
    assert json.dumps(out, sort_keys=True) == json.dumps(example, sort_keys=True)


def test_attrs_classes_round_trip_too(conv):
    example = {
        "id": "ord_2",
        "status": "processing",
        "total": "10.00",
        "createdAt": "2025-01-01T00:00:00Z",
        "cards": [{"code": "X", "kind": "code"}],
        "note": None,
        "tags": ["gift"],
    }
    order = conv.structure(example, AttrsOrder)
    assert order.cards == [AttrsCard(code="X", kind=CardKind.code)]
    assert conv.unstructure(order) == example


def test_snake_case_fields_map_to_camel_case_keys(conv):
    example = {
        "id": "o",
        "faceValue": "5.00",
        "createdAt": "2025-01-01T00:00:00Z",
        "completedAt": None,
        "referenceId": "ref-1",
    }
    order = conv.structure(example, SnakeOrder)
    assert order.reference_id == "ref-1"
    assert order.face_value == Decimal("5.00")
    assert conv.unstructure(order) == example


def test_alias_metadata_wins_over_the_naming_rule(conv):
    assert conv.structure({"x-value": 3}, Aliased) == Aliased(value=3)
    assert conv.unstructure(Aliased(value=3)) == {"x-value": 3}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("referenceId", "referenceId"),
        ("reference_id", "referenceId"),
        ("from_", "from"),
        ("id", "id"),
        ("ip_allow_list", "ipAllowList"),
        ("_private", "_private"),
    ],
)
def test_wire_name(name, key):
    assert wire_name(name) == key


# -- absent versus null -------------------------------------------------------------------------


def test_absent_optional_fields_stay_absent_and_required_nulls_stay_null(conv):
    minimal = {k: ORDER_JSON[k] for k in ("id", "status", "faceValue", "total", "createdAt")}
    minimal |= {"cards": [], "completedAt": None, "quantity": 1, "tags": []}
    out = conv.unstructure(conv.structure(minimal, Order))
    assert "expectedTotal" not in out
    assert "from" not in out
    assert "metadata" not in out
    assert out["completedAt"] is None


def test_explicit_nulls_are_remembered_only_while_the_value_stays_none(conv):
    card = conv.structure({"code": "C", "kind": "code", "pin": None}, Card)
    assert conv.unstructure(card) == {"code": "C", "kind": "code", "pin": None}
    card.pin = "1234"
    assert conv.unstructure(card) == {"code": "C", "kind": "code", "pin": "1234"}


def test_absent_defaults_stay_absent_until_changed(conv):
    data = {k: v for k, v in ORDER_JSON.items() if k not in ("quantity", "tags")}
    order = conv.structure(data, Order)
    assert order.quantity == 1
    assert order.tags == []
    assert "quantity" not in conv.unstructure(order)
    order.quantity = 2
    assert conv.unstructure(order)["quantity"] == 2


def test_request_bodies_leave_out_unset_optional_fields(conv):
    card = Card(code="C", kind=CardKind.code)
    assert conv.unstructure(card) == {"code": "C", "kind": "code"}


# -- decimals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "out"),
    [
        ("52.50", Decimal("52.50"), "52.50"),
        ("0.10", Decimal("0.10"), "0.10"),
        (100, Decimal(100), "100"),
        ("1E+2", Decimal("1E+2"), "100"),
        (52.5, Decimal("52.5"), "52.5"),
        ("-5", Decimal(-5), "-5"),
    ],
)
def test_decimals_come_from_strings_or_numbers_and_go_out_as_plain_strings(conv, raw, value, out):
    result = conv.structure(raw, Decimal)
    assert result == value
    assert conv.unstructure(result) == out


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, None, [1]])
def test_invalid_decimals_are_refused(conv, raw):
    with pytest.raises((ValueError, TypeError)):
        conv.structure(raw, Decimal)


def test_strict_converter_refuses_float_money(strict):
    with pytest.raises(TypeError, match="decimal string"):
        strict.structure(52.5, Decimal)
    assert strict.structure("52.50", Decimal) == Decimal("52.50")


# -- date-times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "out"),
    [
        ("2025-03-01T12:00:00Z", "2025-03-01T12:00:00Z"),
        ("2025-03-01T12:00:00+00:00", "2025-03-01T12:00:00Z"),
        ("2025-03-01T12:00:00.5Z", "2025-03-01T12:00:00.500Z"),
        ("2025-03-01T12:00:00.123Z", "2025-03-01T12:00:00.123Z"),
        ("2025-03-01T12:00:00.000001Z", "2025-03-01T12:00:00.000001Z"),
        ("2025-03-01T13:00:00+01:00", "2025-03-01T13:00:00+01:00"),
    ],
)
def test_rfc3339_date_times_are_aware_and_written_back_with_z_for_utc(conv, raw, out):
    value = conv.structure(raw, dt.datetime)
    assert value.tzinfo is not None
    assert conv.unstructure(value) == out


def test_naive_date_times_are_taken_as_utc_unless_strict(conv, strict):
    assert conv.structure("2025-03-01T12:00:00", dt.datetime).tzinfo is dt.UTC
    assert conv.unstructure(dt.datetime(2025, 3, 1, 12)) == "2025-03-01T12:00:00Z"
    with pytest.raises(ValueError, match="no UTC offset"):
        strict.structure("2025-03-01T12:00:00", dt.datetime)


def test_dates_and_uuids(conv):
    assert conv.structure("2026-03-01", dt.date) == dt.date(2026, 3, 1)
    assert conv.unstructure(dt.date(2026, 3, 1)) == "2026-03-01"
    with pytest.raises(ValueError, match="Invalid isoformat"):
        conv.structure("2026-03-01T00:00:00Z", dt.date)
    u = UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert conv.structure(str(u), UUID) == u
    assert conv.unstructure(u) == str(u)


# -- forward compatibility ----------------------------------------------------------------------


def test_unknown_fields_are_ignored(conv):
    cards = [{**ORDER_JSON["cards"][0], "new": 1}, ORDER_JSON["cards"][1]]
    data = {**ORDER_JSON, "loyaltyPoints": 12, "cards": cards}
    assert conv.structure(data, Order) == conv.structure(ORDER_JSON, Order)


def test_unknown_enum_values_come_through_as_plain_strings(conv):
    order = conv.structure({**ORDER_JSON, "status": "on_hold"}, Order)
    assert order.status == "on_hold"
    assert type(order.status) is str
    assert conv.unstructure(order)["status"] == "on_hold"
    known = conv.structure(ORDER_JSON, Order)
    assert known.status == "completed"
    assert known.status is OrderStatus.completed


def test_register_enums_returns_the_enums_defined_in_the_module():
    conv = make_converter()
    assert set(register_enums(conv, GENERATED)) == {OrderStatus, CardKind}


def test_strict_converter_names_unknown_fields_by_pointer(strict):
    data = {**ORDER_JSON, "cards": [ORDER_JSON["cards"][0], {**ORDER_JSON["cards"][1], "x": 1}]}
    with pytest.raises(cattrs.BaseValidationError) as info:
        strict.structure(data, Order)
    assert structure_errors(info.value) == [("/cards/1/x", "unknown field")]


def test_strict_converter_refuses_unknown_enum_values_with_their_location(strict):
    with pytest.raises(cattrs.BaseValidationError) as info:
        strict.structure({**ORDER_JSON, "status": "on_hold"}, Order)
    [(pointer, message)] = structure_errors(info.value)
    assert pointer == "/status"
    assert "'on_hold' is not a valid OrderStatus" in message


def test_errors_name_wire_keys_and_list_indexes(conv):
    data = copy.deepcopy(ORDER_JSON)
    data["cards"][1]["expiresOn"] = "soon"
    data["createdAt"] = 5
    del data["total"]
    with pytest.raises(cattrs.BaseValidationError) as info:
        conv.structure(data, Order)
    pointers = sorted(p for p, _ in structure_errors(info.value))
    assert pointers == ["/cards/1/expiresOn", "/createdAt", "/total"]


# -- unions -------------------------------------------------------------------------------------


def test_literal_tagged_unions_pick_the_matching_class(conv):
    event = conv.structure({"type": "wallet.credited", "amount": "5.00"}, CreditEvent | OrderEvent)
    assert event == CreditEvent(type="wallet.credited", amount=Decimal("5.00"))
    assert conv.structure({"type": "order.completed", "orderId": "o"}, CreditEvent | OrderEvent)


def test_unions_of_primitives_pass_through(conv):
    assert conv.structure({"value": 3}, Mixed).value == 3
    assert conv.structure({"value": "three"}, Mixed).value == "three"
    assert conv.structure({}, Mixed).value is None
