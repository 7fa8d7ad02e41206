"""Scenario triggers: magic face values and special SKUs that force an outcome.

Bamboo documents no magic sandbox values; these are the simulator's own, so partners and CI can
reach every path of a robust client. A trigger applies to a whole order when any line matches.

* A **magic face value** works on any *range* product whose range contains it (every generated
  range product spans at least 10..500 in its currency), e.g. ``{"ProductId": <AMZ-US-VAR>,
  "Value": 13.13}``.
* A **special SKU** is a fixed 10 USD product of the "Steller Test Brand" (see ``SCENARIO_SKUS``).

"First attempt" triggers count checkout attempts per RequestId: the first call with a given
RequestId gets the fault, a retry with the same RequestId behaves normally.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

__all__ = [
    "MAGIC_FACE_VALUES",
    "SCENARIO_DESCRIPTIONS",
    "SCENARIO_SKUS",
    "SPECIAL_SKUS",
    "Scenario",
]


class Scenario(StrEnum):
    """The outcomes a trigger can force."""

    FAIL = "fail"
    PARTIAL = "partial"
    SLOW = "slow"
    OUT_OF_STOCK = "out_of_stock"
    RATE_LIMITED = "rate_limited"
    VENDOR_5XX = "vendor_5xx"
    VENDOR_TIMEOUT = "vendor_timeout"


MAGIC_FACE_VALUES: Final[dict[Decimal, Scenario]] = {
    Decimal("13.13"): Scenario.FAIL,
    Decimal("22.22"): Scenario.PARTIAL,
    Decimal("33.33"): Scenario.SLOW,
    Decimal("44.44"): Scenario.OUT_OF_STOCK,
    Decimal("42.90"): Scenario.RATE_LIMITED,
    Decimal("50.30"): Scenario.VENDOR_5XX,
    Decimal("40.80"): Scenario.VENDOR_TIMEOUT,
}
"""Face value -> scenario, for range products (``42.9`` and ``42.90`` are the same value)."""

SCENARIO_SKUS: Final[dict[str, Scenario]] = {
    "SIM-FAIL-10": Scenario.FAIL,
    "SIM-PARTIAL-10": Scenario.PARTIAL,
    "SIM-SLOW-10": Scenario.SLOW,
    "SIM-OOS-10": Scenario.OUT_OF_STOCK,
    "SIM-429-10": Scenario.RATE_LIMITED,
    "SIM-503-10": Scenario.VENDOR_5XX,
    "SIM-TIMEOUT-10": Scenario.VENDOR_TIMEOUT,
}
"""Special fixed products (10 USD, brand "Steller Test Brand") -> scenario."""

SPECIAL_SKUS: Final[dict[str, str]] = {
    "SIM-OK-10": "a plain fixed 10 USD product, unlimited stock",
    "SIM-US-VAR": "a plain range product, 1..1000 USD, unlimited stock",
    "SIM-LOW-10": "finite stock of exactly 3 cards (whatever the seed)",
    "SIM-OOS-10": "stock count 0: checkout answers 400 ProductIsOutOfStock",
    "SIM-DISABLED-10": "status TemporaryInactive: checkout answers 400 InvalidProduct",
    "SIM-PRICEINVALID-10": "misconfigured client price: checkout answers 400 ClientPriceInvalid",
}
"""The other products of the test brand, with what they are for."""

SCENARIO_DESCRIPTIONS: Final[dict[Scenario, str]] = {
    Scenario.FAIL: "order accepted (200) and charged, then ends Failed: no card sold, total 0, "
    "everything refunded",
    Scenario.PARTIAL: "order ends PartialFailed: of each matching line, floor(quantity/2) cards "
    "are Sold and the rest Failed (and refunded); errorMessage is filled in",
    Scenario.SLOW: "order goes Created -> Processing -> Pending and only becomes final (Succeeded) "
    "after SimulatorConfig.slow_seconds (default 30 s)",
    Scenario.OUT_OF_STOCK: "checkout answers 400 ProductIsOutOfStock",
    Scenario.RATE_LIMITED: "the first checkout attempt for a RequestId answers 429 'Too many "
    "requests. Please wait for N seconds.' (N = scenario_retry_after_seconds); a retry succeeds",
    Scenario.VENDOR_5XX: "the first checkout attempt for a RequestId answers 503 and creates no "
    "order; a retry with the same RequestId succeeds",
    Scenario.VENDOR_TIMEOUT: "the first checkout attempt for a RequestId creates and charges the "
    "order, then hangs for timeout_hang_seconds (default 30 s) before answering; a retry gets 400 "
    "OrderAlreadyExists and must call Get Order",
}
