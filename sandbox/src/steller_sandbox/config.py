"""Simulator configuration: credentials, accounts, FX rates, latency, limits and faults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from steller_sandbox.clock import Clock

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_CREDENTIALS",
    "DEFAULT_USD_RATES",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "AccountSpec",
    "Credential",
    "Environment",
    "Faults",
    "RateLimit",
    "RateLimits",
    "SimulatorConfig",
]


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


@dataclass(frozen=True, kw_only=True)
class Credential:
    """A Basic-auth pair bound to one environment of one client.

    ``has_access=False`` answers 403 on every route; ``user_enabled=False`` answers checkout with
    400 UserNotEnabled; ``catalog_exists=False`` gives an empty catalogue and checkout 400
    ClientCatalogNotExist.
    """

    client_id: str
    client_secret: str
    environment: Environment = Environment.SANDBOX
    client_name: str = "Steller"
    has_access: bool = True
    user_enabled: bool = True
    catalog_exists: bool = True


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """An account's starting state. ``owner`` is the ``client_name`` of its credentials."""

    id: int
    currency: str
    balance: Decimal
    environment: Environment = Environment.SANDBOX
    owner: str = "Steller"
    is_active: bool = True


SANDBOX_CLIENT_ID = "steller-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a documented public test credential

DEFAULT_CREDENTIALS: tuple[Credential, ...] = (
    Credential(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET),
    Credential(
        client_id="steller-production",
        client_secret="production-secret",  # noqa: S106 - simulator credential
        environment=Environment.PRODUCTION,
    ),
    Credential(
        client_id="steller-forbidden",
        client_secret="forbidden-secret",  # noqa: S106 - simulator credential
        client_name="Forbidden Client",
        has_access=False,
    ),
    Credential(
        client_id="steller-disabled",
        client_secret="disabled-secret",  # noqa: S106 - simulator credential
        client_name="Disabled Client",
        user_enabled=False,
    ),
    Credential(
        client_id="steller-nocatalog",
        client_secret="nocatalog-secret",  # noqa: S106 - simulator credential
        client_name="No Catalog Client",
        catalog_exists=False,
    ),
)

DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec(id=1001, currency="USD", balance=Decimal("100000.0000")),
    AccountSpec(id=1002, currency="EUR", balance=Decimal("50000.0000")),
    AccountSpec(id=1003, currency="GBP", balance=Decimal("50000.0000")),
    AccountSpec(id=1004, currency="AED", balance=Decimal("250000.0000")),
    AccountSpec(id=1005, currency="USD", balance=Decimal("5.0000")),
    AccountSpec(id=1006, currency="USD", balance=Decimal("1000.0000"), is_active=False),
    AccountSpec(
        id=2001, currency="USD", balance=Decimal("10000.0000"), environment=Environment.PRODUCTION
    ),
    AccountSpec(
        id=2002, currency="EUR", balance=Decimal("10000.0000"), environment=Environment.PRODUCTION
    ),
)

DEFAULT_USD_RATES: Mapping[str, Decimal] = MappingProxyType(
    {
        "USD": Decimal("1"),
        "EUR": Decimal("0.92"),
        "GBP": Decimal("0.79"),
        "AED": Decimal("3.6725"),
        "SAR": Decimal("3.75"),
        "CAD": Decimal("1.36"),
        "AUD": Decimal("1.51"),
        "INR": Decimal("83.42"),
        "BHD": Decimal("0.376"),
        "JPY": Decimal("156.3"),
    }
)
"""How much of each currency one US dollar buys."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` calls per ``period`` seconds (sliding window)."""

    limit: int
    period: float


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    """Per-endpoint, per-credential limits, defaulting to the numbers in bamboo.md."""

    checkout: RateLimit = RateLimit(2, 1.0)
    checkout_spacing: float = 0.5
    orders_per_product: RateLimit = RateLimit(6, 60.0)
    get_order: RateLimit = RateLimit(120, 60.0)
    catalog: RateLimit = RateLimit(1, 1.0)
    catalog_v1: RateLimit = RateLimit(2, 3600.0)
    exchange_rates: RateLimit = RateLimit(20, 60.0)
    transactions: RateLimit = RateLimit(4, 3600.0)
    default: RateLimit = RateLimit(1, 1.0)

    def for_endpoint(self, endpoint: str) -> RateLimit:
        value = getattr(self, endpoint, self.default)
        return value if isinstance(value, RateLimit) else self.default


@dataclass(kw_only=True)
class Faults:
    """Chaos switches, settable at run time through ``POST /_sim/faults``.

    ``error_rate`` and ``timeout_rate`` are probabilities per vendor call (drawn from a seeded
    generator); ``burst_429`` answers the next N vendor calls with 429 (-1: until switched off).
    """

    error_rate: float = 0.0
    error_status: int = 503
    timeout_rate: float = 0.0
    burst_429: int = 0
    burst_429_seconds: int = 5

    def to_json(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    """Everything the simulator needs; ``create_app(SimulatorConfig())`` gives the defaults."""

    seed: int = 42
    credentials: tuple[Credential, ...] = DEFAULT_CREDENTIALS
    accounts: tuple[AccountSpec, ...] = DEFAULT_ACCOUNTS
    usd_rates: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_USD_RATES)
    latency: float = 0.0
    """Seconds from Created to the final status (Processing from half-way)."""
    slow_seconds: float = 30.0
    limits_enabled: bool = True
    limits: RateLimits = field(default_factory=RateLimits)
    cards_per_order: int = 500
    scenario_retry_after_seconds: int = 2
    timeout_hang_seconds: float = 30.0
    faults: Faults = field(default_factory=Faults)
    clock: Clock | None = None
    callback_timeout: float = 5.0
    callback_transport: httpx.AsyncBaseTransport | None = None
    tick_interval: float = 0.05
    """How often the background task (run under uvicorn's lifespan) finalises due orders."""

    def credential(self, client_id: str) -> Credential | None:
        return next((c for c in self.credentials if c.client_id == client_id), None)
