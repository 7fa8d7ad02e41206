"""The public surface: each public module's ``__all__`` is sorted (ruff's isort-style order),
every name in it is importable, nothing private leaks, and every generated model is public."""

from __future__ import annotations

import enum
import importlib
import inspect
from types import ModuleType

import pytest

import steller
import steller.models._generated as generated

PUBLIC_MODULES = [
    "steller",
    "steller.admin",
    "steller.models",
    "steller.testing",
    "steller.webhooks",
]


def _isort_key(name: str) -> tuple[int, str]:
    # ruff RUF022: SCREAMING_CASE constants, then CamelCase classes, then everything else.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_unique(name):
    exported = _module(name).__all__
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_exported_name_exists(name):
    module = _module(name)
    missing = [member for member in module.__all__ if not hasattr(module, member)]
    assert missing == []


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_nothing_private_is_exported(name):
    private = [m for m in _module(name).__all__ if m.startswith("_") and m != "__version__"]
    assert private == []


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_exported_objects_present_themselves_under_a_public_path(name):
    """Classes and functions are defined in private modules but never *named* private."""
    module = _module(name)
    for member in module.__all__:
        obj = getattr(module, member)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert not obj.__name__.startswith("_"), member


def test_the_core_names_are_exported():
    expected = {
        "APIConnectionError", "APIResponse", "APIResponseValidationError", "APIStatusError",
        "APITimeoutError", "AsyncAPIResponse", "AsyncPage", "AsyncPaginator", "AsyncSteller",
        "AuthenticationError", "BadRequestError", "ConflictError", "DEFAULT_MAX_RETRIES",
        "DEFAULT_RETRY_POLICY", "DEFAULT_TIMEOUT", "Environment", "FieldError",
        "IdempotencyInProgressError", "IdempotencyKeyReusedError", "InsufficientFundsError",
        "InternalServerError", "NOT_GIVEN", "NotFoundError", "NotGiven", "OrderWaitTimeout",
        "PayloadTooLargeError", "PermissionDeniedError", "PriceAboveExpectedTotalError",
        "RateLimitError", "ReferenceConflictError", "RequestOptions", "RetryPolicy",
        "ServiceUnavailableError", "Steller", "StellerError", "SyncPage", "Timeout",
        "UnprocessableEntityError", "ValidationFailedError", "__version__", "signup",
    }  # fmt: skip
    assert expected <= set(steller.__all__)


def test_every_error_is_a_steller_error():
    for name in steller.__all__:
        obj = getattr(steller, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, steller.StellerError), name


def test_every_generated_model_and_enum_is_public():
    defined = {
        name
        for name, obj in vars(generated).items()
        if inspect.isclass(obj) and obj.__module__ == generated.__name__
    }
    assert defined <= set(steller.models.__all__)
    assert any(issubclass(getattr(generated, n), enum.Enum) for n in defined)
