"""Specialised structure functions: the tolerant converter's fast path for model classes.

cattrs' generated function calls one hook per field (``str(v)``, ``_decimal_in(v, Decimal)``,
``_nullable(...)``…): on a catalog page that is most of the time. :func:`build` writes, once
per class, a function that does the same conversions inline for the values the wire carries
(an exact ``str``/``int``/``bool``/``float``, a decimal or RFC 3339 string, a known enum
value, ``null``) and calls the converter's own hook for anything else. For ``CatalogProduct``::

    def structure_CatalogProduct(data, _):
        try:
            v0 = data['sku']
            x0 = v0 if v0.__class__ is _str else h0(v0, t0)
            ...
            instance = cl(sku=x0, ...)
        except Exception:
            return slow(data, _)
        return instance

It changes no result: on any exception it reruns the cattrs-generated function (``slow``), so
errors, and their locations, are exactly what cattrs reports. ``tests/sdk`` checks that both
paths agree on every model and every example in ``openapi.yaml``, and on altered ones.

Only what the converter would do is inlined: a conversion is used only while the converter's
hook for that type is still the one it is written for (``inline`` decides, per type).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import linecache
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, Protocol

__all__ = ["FieldSpec", "Inline", "build", "optional_inner"]

# How a type's values may be converted inline: "exact" (a str/int/float/bool taken as is when
# its class is exactly the type), "decimal", "datetime", "enum", "str_list", "optional" (None
# as is, the rest as the inner type); None: call the hook.
Inline = Literal["exact", "decimal", "datetime", "enum", "str_list", "optional"] | None


class FieldSpec(Protocol):
    """What :func:`build` needs of a field (``_converter._Field`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def wire(self) -> str: ...
    @property
    def default(self) -> Callable[[], Any] | None: ...
    @property
    def default_is_none(self) -> bool: ...


StructureFn = Callable[[Any, Any], Any]


def build(
    cl: type,
    fields: Sequence[FieldSpec],
    *,
    hook: Callable[[Any], StructureFn],
    inline: Callable[[Any, StructureFn], Inline],
    slow: StructureFn,
    remember: Callable[[Any, Any], None] | None,
) -> StructureFn | None:
    """The fast structure function of ``cl``, or None when its annotations cannot be resolved.

    ``hook(type)`` gives the converter's hook for a type; ``inline(type, hook)`` how it may be
    inlined; ``slow`` is the cattrs-generated function (the fallback); ``remember(instance,
    data)`` is called when the input had an explicit null for an optional field or left out a
    field with a non-``None`` default (``None``: the class has no such field).
    """
    try:
        hints = typing.get_type_hints(cl)
    except Exception:  # unresolvable annotations: cattrs' function does it all
        return None
    names: dict[str, Any] = {"cl": cl, "slow": slow, "remember": remember, "_str": str}
    writer = _Writer(names, hook, inline)
    body: list[str] = []
    args: list[str] = []
    for index, field in enumerate(fields):
        src, dst = f"v{index}", f"x{index}"
        convert = writer.conversion(hints[field.name], src, dst, f"{index}")
        key = repr(field.wire)
        if field.default is None:
            body += [f"{src} = data[{key}]", *convert]
        else:
            names[f"d{index}"] = field.default
            body += [f"if {key} in data:", f"    {src} = data[{key}]"]
            body += [f"    {line}" for line in convert]
            if field.default_is_none and remember is not None:
                body += [f"    if {src} is None:", "        mark = True"]
            body += ["else:", f"    {dst} = d{index}()"]
            if not field.default_is_none and remember is not None:
                body += ["    mark = True"]
        args.append(f"{field.name}={dst}")
    if _plain_dataclass(cl, fields):
        # What its generated __init__ does (one store per field, in order), at half the cost.
        names["_new"] = object.__new__
        body += ["instance = _new(cl)", "attributes = instance.__dict__"]
        body += [f"attributes[{f.name!r}] = x{i}" for i, f in enumerate(fields)]
    else:
        body.append(f"instance = cl({', '.join(args)})")

    fn_name = f"structure_{cl.__name__}"
    lines = [f"def {fn_name}(data, _):"]
    if remember is not None:
        lines.append("    mark = False")
    lines += ["    try:", *(f"        {line}" for line in body)]
    lines += ["    except Exception:", "        return slow(data, _)"]
    if remember is not None:
        lines += ["    if mark:", "        remember(instance, data)"]
    lines.append("    return instance")
    source = "\n".join(lines) + "\n"

    # A linecache entry makes tracebacks and profilers show the generated source.
    filename = f"<steller fast structure {cl.__module__}.{cl.__qualname__}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), names)  # noqa: S102 - source built above
    fn: StructureFn = names[fn_name]
    return fn


class _Writer:
    """Writes conversion statements, binding the objects they use into ``names``."""

    def __init__(
        self,
        names: dict[str, Any],
        hook: Callable[[Any], StructureFn],
        inline: Callable[[Any, StructureFn], Inline],
    ) -> None:
        self.names = names
        self.hook = hook
        self.inline = inline

    def conversion(self, type_: Any, src: str, dst: str, tag: str) -> list[str]:
        """Statements that set ``dst`` to ``src`` structured as ``type_``."""
        names = self.names
        type_hook = self.hook(type_)
        names[f"h{tag}"], names[f"t{tag}"] = type_hook, type_
        slow_call = f"{dst} = h{tag}({src}, t{tag})"
        kind = self.inline(type_, type_hook)
        inner = optional_inner(type_)
        if kind == "optional" and inner is not None:
            convert = self.conversion(inner, src, dst, f"{tag}_")
            return [f"if {src} is None:", f"    {dst} = None", "else:", *_indent(convert)]
        if kind == "exact":
            names[f"c{tag}"] = type_
            return [f"{dst} = {src} if {src}.__class__ is c{tag} else h{tag}({src}, t{tag})"]
        if kind == "decimal":
            # Money strings repeat (a catalog page of 50 products has a few dozen distinct
            # ones): a cache hit costs a dict lookup instead of Decimal() + is_finite().
            names["_decimals"], names["_decimal_miss"] = _DECIMALS, _decimal_miss
            return [
                "try:",
                f"    {dst} = _decimals[{src}]",
                "except KeyError:",
                f"    {dst} = _decimal_miss({src}, h{tag}, t{tag})",
            ]
        if kind == "datetime":
            # The common wire form inline; the hook for other inputs and for what it would
            # complete (a naive datetime).
            names["_fromisoformat"] = dt.datetime.fromisoformat
            return [
                f"if {src}.__class__ is _str:",
                f"    {dst} = _fromisoformat({src})",
                f"    if {dst}.tzinfo is None:",
                f"        {slow_call}",
                "else:",
                f"    {slow_call}",
            ]
        if kind == "enum":
            members: Mapping[Any, enum.Enum] = type_._value2member_map_
            names[f"m{tag}"] = members
            return ["try:", f"    {dst} = m{tag}[{src}]", "except KeyError:", f"    {slow_call}"]
        if kind == "str_list":
            names["_list"] = list
            return [
                f"if {src}.__class__ is _list:",
                # A copy, unless an item is not exactly a str (then str() of each, as cattrs).
                f"    {dst} = {src}.copy()",
                f"    for item in {dst}:",
                "        if item.__class__ is not _str:",
                f"            {dst} = [_str(item) for item in {src}]",
                "            break",
                "else:",  # an iterator: the fallback could not read it again
                f"    {slow_call}",
            ]
        return [slow_call]


# Decimal(s) for finite decimal strings s already seen. Decimal is immutable and its
# construction from a string is exact whatever the context, so one instance can serve every
# converter and thread. Bounded: emptied when full (a few hundred kB at most).
_DECIMALS: dict[str, Decimal] = {}
_DECIMALS_MAX = 2048


def _decimal_miss(value: Any, hook: StructureFn, type_: Any) -> Any:
    """``value`` (not in the cache) as a Decimal: parsed and cached when it is a finite decimal
    string, else whatever the converter's hook does with it."""
    if value.__class__ is str:
        result = Decimal(value)  # invalid: the whole structure falls back to cattrs
        if result.is_finite():
            if len(_DECIMALS) >= _DECIMALS_MAX:
                _DECIMALS.clear()
            _DECIMALS[value] = result
            return result
    return hook(value, type_)


def _plain_dataclass(cl: type, fields: Sequence[FieldSpec]) -> bool:
    """Whether ``cl`` is a dataclass whose ``__init__`` only stores its arguments, one per
    field, in its instance ``__dict__`` (no ``__post_init__``, ``InitVar``, slots, frozen or
    custom ``__setattr__``/``__new__``)."""
    if not dataclasses.is_dataclass(cl) or getattr(cl, "__post_init__", None) is not None:
        return False
    params = getattr(cl, "__dataclass_params__", None)
    init = cl.__init__
    code = getattr(init, "__code__", None)
    return (
        params is not None
        and not params.frozen
        and cl.__setattr__ is object.__setattr__
        and cl.__new__ is object.__new__
        and not any("__slots__" in vars(base) for base in cl.__mro__[:-1])
        and [f.name for f in dataclasses.fields(cl) if f.init] == [f.name for f in fields]
        and all(f.init for f in dataclasses.fields(cl))
        # dataclasses writes __init__ with exec: a hand-written one has a real file name
        and code is not None
        and code.co_filename == "<string>"
        and init.__qualname__ == f"{cl.__qualname__}.__init__"
        and code.co_argcount + code.co_kwonlyargcount == len(fields) + 1  # self; no InitVar
    )


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def optional_inner(type_: Any) -> Any:
    """``T`` for ``T | None`` (or ``Optional[T]``), else None."""
    if typing.get_origin(type_) not in (types.UnionType, typing.Union):
        return None
    args = typing.get_args(type_)
    if len(args) != 2 or type(None) not in args:
        return None
    return args[0] if args[1] is type(None) else args[1]
