"""The one cattrs converter that owns every wire rule of the generated models.

The generated classes (``models/_generated.py``: dataclasses or attrs classes from
datamodel-code-generator) hold data only; this module decides how they meet JSON:

* **names**: a field's JSON key is its ``metadata["alias"]`` if set, else the field name in
  camelCase with a keyword-escaping trailing ``_`` dropped (``reference_id`` and ``referenceId``
  both map to ``"referenceId"``, ``from_`` to ``"from"``);
* **Decimal** (``format: decimal``, money): in from a string or an int (a float is accepted via
  its shortest repr, and refused when strict); out as a plain string that keeps its scale
  (``Decimal("52.50")`` → ``"52.50"``). NaN and infinities are refused;
* **datetime** (``format: date-time``): RFC 3339 in (``Z`` or an offset; a naive value is taken
  as UTC, or refused when strict), out with ``Z`` for UTC and the precision it came with
  (seconds, milliseconds or microseconds); **date**, **UUID** as ISO strings;
* **enums**: :func:`register_enums` gives each enum class of a module a hook that returns an
  unknown value as the plain string (a ``StrEnum`` member compares equal to its string, so
  ``order.status == "completed"`` works either way); strict converters refuse unknown values;
* **unknown fields** are ignored (strict converters refuse them). The SDK keeps no copy of them
  on the model: ``client.<resource>.with_raw_response.<method>(...).json()`` gives the
  untouched body when you need a field this SDK version does not know yet;
* **absent vs null**: on output an optional field (default ``None``) that is ``None`` is left
  out, and every other field is written, a required nullable one as ``null``. Where the input
  did otherwise (an optional field sent as an explicit ``null``; an absent field with a
  non-``None`` default such as ``quantity = 1``) the converter remembers it for that instance
  (see ``_Presence``), so structure-then-unstructure returns the same JSON. Instances built in
  code follow the plain rule: unset optional fields are not sent;
* unions of primitives pass through; unions of model classes use cattrs' default
  disambiguation (unique fields or ``Literal`` tags).

A strict converter (``make_converter(strict=True)``) is for contract tests and for users who
would rather fail than guess: every error names its location through
:func:`cattrs.transform_error` (``extra fields found (total) @ $.cards[0]``).

Speed: a tolerant converter structures each model class (and ``list[Model]``) through a
function written for that class by :mod:`._fastpath`, with the cattrs-generated function
behind it for anything unusual, so results and errors are the same as cattrs' alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import keyword
import typing
import weakref
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from types import ModuleType
from typing import Any, Literal
from uuid import UUID

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_union_passthrough
from cattrs.v import format_exception

from . import _fastpath

__all__ = ["make_converter", "register_enums", "structure_errors", "wire_name"]


def make_converter(
    *, strict: bool = False, enum_modules: Iterable[ModuleType] = (), fast: bool = True
) -> cattrs.Converter:
    """A new converter with the Steller wire rules, tolerant (default) or ``strict``.

    ``enum_modules``: modules whose enum classes get :func:`register_enums` hooks, e.g. the
    generated models module. Create one converter per client and reuse it: hooks are built
    lazily the first time each class is seen. A tolerant converter structures model classes
    through :mod:`._fastpath` (same results, cattrs' function behind it); ``fast=False`` leaves
    cattrs alone, for tests that compare the two.

    >>> conv = make_converter()
    >>> conv.unstructure(Decimal("52.50"))
    '52.50'
    """
    conv = cattrs.Converter(forbid_extra_keys=strict)
    # cattrs' own hooks, before any registration, so the fast path knows what it may inline.
    plain = {t: conv.get_structure_hook(t) for t in (str, int, float, bool)}
    optional = conv.get_structure_hook(_Probe | None)

    conv.register_structure_hook(Decimal, _decimal_in_strict if strict else _decimal_in)
    conv.register_unstructure_hook(Decimal, _decimal_out)
    conv.register_structure_hook(dt.datetime, _datetime_in_strict if strict else _datetime_in)
    conv.register_unstructure_hook(dt.datetime, _datetime_out)
    conv.register_structure_hook(dt.date, _date_in)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(UUID, _uuid_in)
    conv.register_unstructure_hook(UUID, str)
    configure_union_passthrough(str | int | float | bool | None, conv)
    # Nullable scalars (``stock: int | None``…) straight to their hook: cattrs' generic
    # Optional handling dispatches again on every value (a third of a catalog page's parse).
    decimal_in = _decimal_in_strict if strict else _decimal_in
    datetime_in = _datetime_in_strict if strict else _datetime_in
    nullable_hooks: list[Callable[[Any, Any], Any]] = []
    for scalar, hook in (
        (str, _call_type),
        (int, _call_type),
        (float, _call_type),
        (bool, _call_type),
        (Decimal, decimal_in),
        (dt.datetime, datetime_in),
        (dt.date, _date_in),
    ):
        nullable_hooks.append(_nullable(hook, scalar))
        conv.register_structure_hook(scalar | None, nullable_hooks[-1])
    # ``list[str]`` (catalog categories…): what cattrs does, without its per-item bookkeeping.
    conv.register_structure_hook_func(_is_str_list, _str_list)

    def inline(type_: Any, hook: Callable[[Any, Any], Any]) -> _fastpath.Inline:
        """How the fast path may inline ``hook``, the converter's hook for ``type_``."""
        if type_ in plain and hook is plain[type_]:
            return "exact"
        if type_ is Decimal and hook is _decimal_in:
            return "decimal"
        if type_ is dt.datetime and hook is _datetime_in:
            return "datetime"
        if isinstance(hook, _EnumHook) and hook.cls is type_ and not hook.strict:
            return "enum"
        if hook is _str_list and _is_str_list(type_):
            return "str_list"
        if _fastpath.optional_inner(type_) is not None and (
            any(hook is h for h in nullable_hooks) or hook == optional
        ):
            return "optional"
        return None

    presence = _Presence()
    fast_inline = inline if fast and not strict else None
    conv.register_structure_hook_factory(
        _is_model, lambda cl: _structure_fn(conv, presence, cl, fast_inline)
    )
    if fast_inline is not None:
        conv.register_structure_hook_factory(_is_model_list, lambda cl: _model_list_fn(conv, cl))
    conv.register_unstructure_hook_factory(
        _is_model, lambda cl: _unstructure_fn(conv, presence, cl)
    )

    for module in enum_modules:
        register_enums(conv, module, strict=strict)
    return conv


def register_enums(
    converter: cattrs.Converter, module: ModuleType, *, strict: bool | None = None
) -> list[type[enum.Enum]]:
    """Register an unknown-value-tolerant structure hook for every enum defined in ``module``.

    The hook must be per class: cattrs bypasses predicate and base-class hooks for
    ``StrEnum``. With ``strict`` (default: whether the converter forbids extra keys) unknown
    values raise instead. Returns the classes registered.
    """
    if strict is None:
        strict = converter.forbid_extra_keys
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, enum.Enum)
        and obj.__module__ == module.__name__
    ]
    for cls in found:
        converter.register_structure_hook(cls, _enum_hook(cls, strict=strict))
    return found


def wire_name(field_name: str, metadata: Mapping[Any, Any] | None = None) -> str:
    """The JSON key of a model field: its ``alias`` metadata, else the camelCase name.

    >>> wire_name("reference_id"), wire_name("faceValue"), wire_name("from_")
    ('referenceId', 'faceValue', 'from')
    """
    if metadata and isinstance(metadata.get("alias"), str):
        return str(metadata["alias"])
    name = field_name
    if name.endswith("_") and keyword.iskeyword(name[:-1]):
        return name[:-1]
    if name.startswith("_") or "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def structure_errors(exc: BaseException) -> list[tuple[str, str]]:
    """Flatten a cattrs structuring error into ``(JSON pointer, message)`` pairs.

    Pointers use the wire names (``/cards/0/expiresOn``), like the server's 422 ``errors``::

        try:
            conv.structure(data, Order)
        except cattrs.BaseValidationError as exc:
            for pointer, message in structure_errors(exc):
                print(pointer or "/", message)
    """
    return _walk(exc, "", None)


def _walk(exc: BaseException, pointer: str, typ: Any) -> list[tuple[str, str]]:
    if isinstance(exc, cattrs.ClassValidationError):
        names = {f.name: f.wire for f in _fields(exc.cl)} if _is_model(exc.cl) else {}
        with_notes, others = exc.group_exceptions()
        out = [
            pair
            for sub, note in with_notes
            for pair in _walk(
                sub, f"{pointer}/{_escape(names.get(note.name, note.name))}", note.type
            )
        ]
        return out + [pair for sub in others for pair in _walk(sub, pointer, typ)]
    if isinstance(exc, cattrs.IterableValidationError):
        items, others = exc.group_exceptions()
        out = [
            pair
            for sub, note in items
            for pair in _walk(sub, f"{pointer}/{_escape(str(note.index))}", note.type)
        ]
        return out + [pair for sub in others for pair in _walk(sub, pointer, typ)]
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return [(f"{pointer}/{_escape(key)}", "unknown field") for key in sorted(exc.extra_fields)]
    if isinstance(exc, BaseExceptionGroup):
        return [pair for sub in exc.exceptions for pair in _walk(sub, pointer, typ)]
    message = format_exception(exc, typ)
    if isinstance(exc, ValueError | TypeError) and str(exc):
        message = f"{message} ({exc})"
    return [(pointer, message)]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# -- model classes ------------------------------------------------------------------------------


def _is_model(cl: Any) -> bool:
    return isinstance(cl, type) and (attrs.has(cl) or dataclasses.is_dataclass(cl))


def _is_model_list(type_: Any) -> bool:
    args = typing.get_args(type_)
    return typing.get_origin(type_) is list and len(args) == 1 and _is_model(args[0])


def _model_list_fn(conv: cattrs.Converter, type_: Any) -> Callable[[Any, Any], Any]:
    """``list[Model]`` (a page's ``data``): a list comprehension over the model's hook, and
    cattrs' own list function (which names the index of each bad item) when that fails."""
    (item_type,) = typing.get_args(type_)
    item_hook = conv.get_structure_hook(item_type)
    slow = list_structure_factory(type_, conv)

    def structure(data: Any, _: Any) -> Any:
        if data.__class__ is list:  # an iterator could not be read again by the fallback
            try:
                return [item_hook(item, item_type) for item in data]
            except Exception:  # noqa: S110 - cattrs' function reports the error
                pass
        return slow(data, type_)

    return structure


@dataclasses.dataclass
class _Probe:
    """A model class only used to ask a new converter for its hook of ``model | None``."""


@attrs.frozen
class _Field:
    name: str
    wire: str
    default: Callable[[], Any] | None  # makes the default value; None: the field is required

    @property
    def default_is_none(self) -> bool:
        return self.default is not None and self.default() is None


def _fields(cl: type) -> list[_Field]:
    """The init fields of an attrs class or dataclass, with wire names and defaults."""
    out: list[_Field] = []
    if attrs.has(cl):
        for a in attrs.fields(cl):
            if not a.init:
                continue
            default: Callable[[], Any] | None = None
            if isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                if not a.default.takes_self:
                    default = a.default.factory
            elif a.default is not attrs.NOTHING:
                default = functools.partial(_same, a.default)
            out.append(_Field(a.name, wire_name(a.name, a.metadata), default))
        return out
    for f in dataclasses.fields(cl):
        if not f.init:
            continue
        default = None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory
        elif f.default is not dataclasses.MISSING:
            default = functools.partial(_same, f.default)
        out.append(_Field(f.name, wire_name(f.name, f.metadata), default))
    return out


def _same(value: Any) -> Any:
    return value


class _Presence:
    """Remembers, per structured instance, where its JSON differed from the output rules.

    Output leaves out optional fields that are ``None`` and writes every other field. Two
    inputs do not fit that rule: an optional field sent as explicit ``null``, and a field with
    a non-``None`` default (``quantity = 1``, ``tags = []``) that was absent. For the instances
    where that happened (rare) the field names are kept here, keyed by ``id()`` and dropped by a
    weakref callback when the instance dies, so unstructuring gives back the same JSON.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[weakref.ref[Any], frozenset[str], frozenset[str]]] = {}

    def remember(self, instance: object, nulls: frozenset[str], absent: frozenset[str]) -> None:
        key = id(instance)
        try:
            ref = weakref.ref(instance, lambda _: self._by_id.pop(key, None))
        except TypeError:  # a class without __weakref__: fall back to the plain rule
            return
        self._by_id[key] = (ref, nulls, absent)

    def lookup(self, instance: object) -> tuple[frozenset[str], frozenset[str]] | None:
        entry = self._by_id.get(id(instance))
        if entry is None or entry[0]() is not instance:
            return None
        return entry[1], entry[2]


def _structure_fn(
    conv: cattrs.Converter,
    presence: _Presence,
    cl: type,
    inline: Callable[[Any, Callable[[Any, Any], Any]], _fastpath.Inline] | None,
) -> Callable[[Any, Any], Any]:
    """cattrs' structure function for ``cl`` (plus presence tracking); with ``inline`` (tolerant
    converters), the specialised function of :mod:`._fastpath` in front of it."""
    fields = _fields(cl)
    overrides: dict[str, Any] = {
        f.name: override(rename=f.wire) for f in fields if f.wire != f.name
    }
    base: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cl, conv, _cattrs_forbid_extra_keys=conv.forbid_extra_keys, **overrides
    )
    nullable = [(f.name, f.wire) for f in fields if f.default_is_none]
    defaulted = [(f.name, f.wire) for f in fields if f.default and not f.default_is_none]
    slow = base
    remember: Callable[[Any, Any], None] | None = None
    if nullable or defaulted:

        def remember(instance: Any, data: Any) -> None:
            nulls = frozenset(n for n, w in nullable if w in data and data[w] is None)
            absent = frozenset(n for n, w in defaulted if w not in data)
            if nulls or absent:
                presence.remember(instance, nulls, absent)

        def slow(data: Any, type_: Any) -> Any:
            instance = base(data, type_)
            remember(instance, data)
            return instance

    if inline is None:
        return slow
    fast = _fastpath.build(
        cl,
        fields,
        hook=conv.get_structure_hook,
        inline=inline,
        slow=slow,
        remember=remember,
    )
    return slow if fast is None else fast


def _unstructure_fn(
    conv: cattrs.Converter, presence: _Presence, cl: type
) -> Callable[[Any], dict[str, Any]]:
    fields = _fields(cl)
    overrides: dict[str, Any] = {
        f.name: override(rename=f.wire, omit_if_default=f.default_is_none) for f in fields
    }
    base: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cl, conv, **overrides)
    by_name = {f.name: f for f in fields}

    def unstructure(instance: Any) -> dict[str, Any]:
        out = base(instance)
        seen = presence.lookup(instance)
        if seen is not None:
            nulls, absent = seen
            for name in nulls:
                if getattr(instance, name) is None:
                    out[by_name[name].wire] = None
            for name in absent:
                make_default = by_name[name].default
                if make_default is not None and getattr(instance, name) == make_default():
                    out.pop(by_name[name].wire, None)
        return out

    return unstructure


# -- enums --------------------------------------------------------------------------------------


def _enum_hook(cls: type[enum.Enum], *, strict: bool) -> Callable[[Any, Any], Any]:
    return _EnumHook(cls, strict=strict)


class _EnumHook:
    """The structure hook of one enum class: a member, or an unknown string kept as is (an
    object, not a closure, so the fast path can tell it apart and inline the lookup)."""

    __slots__ = ("cls", "members", "strict")

    def __init__(self, cls: type[enum.Enum], *, strict: bool) -> None:
        self.cls = cls
        self.members: Mapping[Any, enum.Enum] = cls._value2member_map_
        self.strict = strict

    def __call__(self, value: Any, _: Any) -> Any:
        try:
            return self.members[value]  # the common case, without Enum.__call__
        except (KeyError, TypeError):
            pass
        cls = self.cls
        try:
            return cls(value)
        except ValueError:
            if self.strict or not isinstance(value, str):
                allowed = ", ".join(repr(m.value) for m in cls)
                msg = f"{value!r} is not a valid {cls.__name__} (expected one of {allowed})"
                raise ValueError(msg) from None
            return value


# -- scalars ------------------------------------------------------------------------------------


def _decimal(value: Any, *, allow_float: bool) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            result = Decimal(value)
        except InvalidOperation:
            msg = f"invalid decimal {value!r}"
            raise ValueError(msg) from None
    elif isinstance(value, float) and allow_float:
        result = Decimal(repr(value))  # 52.5 -> Decimal("52.5"), not its binary expansion
    else:
        msg = f"expected a decimal string, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    if not result.is_finite():
        msg = f"invalid decimal {value!r}"
        raise ValueError(msg)
    return result


def _decimal_in(value: Any, _: Any) -> Decimal:
    if type(value) is str:  # the wire form: skip the type checks of _decimal
        try:
            result = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if result.is_finite():
                return result
    return _decimal(value, allow_float=True)


def _decimal_in_strict(value: Any, _: Any) -> Decimal:
    if type(value) is str:
        return _decimal_in(value, _)
    return _decimal(value, allow_float=False)


def _call_type(value: Any, type_: Any) -> Any:
    return type_(value)  # what cattrs does for str, int, float and bool


def _is_str_list(type_: Any) -> bool:
    return bool(type_ == list[str])


def _str_list(value: Any, _: Any) -> list[str]:
    return [str(item) for item in value]


def _nullable(hook: Callable[[Any, Any], Any], type_: type) -> Callable[[Any, Any], Any]:
    """The hook of ``type_ | None``: ``None`` as is, anything else through ``hook``."""

    def structure(value: Any, _: Any) -> Any:
        return None if value is None else hook(value, type_)

    return structure


def _decimal_out(value: Decimal) -> str:
    return format(value, "f")  # never exponent notation: Decimal("1E+2") -> "100"


def _parse_datetime(value: Any, *, naive_ok: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, str):
        result = dt.datetime.fromisoformat(value)
    else:
        msg = f"expected an RFC 3339 date-time string, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    if result.tzinfo is None:
        if not naive_ok:
            msg = f"date-time {value!r} has no UTC offset"
            raise ValueError(msg)
        result = result.replace(tzinfo=dt.UTC)
    return result


def _datetime_in(value: Any, _: Any) -> dt.datetime:
    return _parse_datetime(value, naive_ok=True)


def _datetime_in_strict(value: Any, _: Any) -> dt.datetime:
    return _parse_datetime(value, naive_ok=False)


def _datetime_out(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    spec: Literal["seconds", "milliseconds", "microseconds"]
    if value.microsecond == 0:
        spec = "seconds"
    elif value.microsecond % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    text = value.isoformat(timespec=spec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _date_in(value: Any, _: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        msg = f"expected a date string (YYYY-MM-DD), got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    return dt.date.fromisoformat(value)


def _uuid_in(value: Any, _: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        msg = f"expected a UUID string, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    return UUID(value)
