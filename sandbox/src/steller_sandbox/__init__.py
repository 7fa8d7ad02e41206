"""A faithful, in-memory simulator of the Bamboo gift-card integration API.

>>> from steller_sandbox import SimulatorConfig, create_app
>>> app = create_app(SimulatorConfig(seed=7, limits_enabled=False))
>>> app.state.simulator.order_count("97018cf7-98f5-40fc-a142-711d43a72e17")
0
"""

from steller_sandbox.app import create_app
from steller_sandbox.catalog import CATEGORIES, Brand, Catalog, Category, Product, build_catalog
from steller_sandbox.clock import Clock, ManualClock, SystemClock
from steller_sandbox.config import (
    DEFAULT_ACCOUNTS,
    DEFAULT_CREDENTIALS,
    DEFAULT_USD_RATES,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    AccountSpec,
    Credential,
    Environment,
    Faults,
    RateLimit,
    RateLimits,
    SimulatorConfig,
)
from steller_sandbox.scenarios import MAGIC_FACE_VALUES, SCENARIO_SKUS, SPECIAL_SKUS, Scenario
from steller_sandbox.state import Simulator

__all__ = [
    "CATEGORIES",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_CREDENTIALS",
    "DEFAULT_USD_RATES",
    "MAGIC_FACE_VALUES",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SCENARIO_SKUS",
    "SPECIAL_SKUS",
    "AccountSpec",
    "Brand",
    "Catalog",
    "Category",
    "Clock",
    "Credential",
    "Environment",
    "Faults",
    "ManualClock",
    "Product",
    "RateLimit",
    "RateLimits",
    "Scenario",
    "Simulator",
    "SimulatorConfig",
    "SystemClock",
    "build_catalog",
    "create_app",
]
