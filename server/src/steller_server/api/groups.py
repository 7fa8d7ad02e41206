"""Every endpoint group the server serves, in one list (the app builds its routes from it)."""

from __future__ import annotations

import importlib

from steller_server.api.routing import Endpoints

# Modules that define `endpoints = Endpoints()`. Order does not matter: paths come from the
# contract.
_MODULES = (
    "steller_server.api.public",
    "steller_server.api.signup",
    "steller_server.api.status",
    "steller_server.api.vendor_callback",
    "steller_server.api.partner.profile",
    "steller_server.api.partner.catalog",
    "steller_server.api.partner.orders",
    "steller_server.api.partner.wallet",
    "steller_server.api.partner.keys",
    "steller_server.api.partner.usage",
    "steller_server.api.partner.statements",
    "steller_server.api.partner.logs",
    "steller_server.api.partner.webhooks",
    "steller_server.api.admin.auth",
    "steller_server.api.admin.users",
    "steller_server.api.admin.partners",
    "steller_server.api.admin.wallets",
    "steller_server.api.admin.products",
    "steller_server.api.admin.orders",
    "steller_server.api.admin.audit",
    "steller_server.api.admin.catalog",
    "steller_server.api.admin.operations",
    "steller_server.api.admin.vendor",
    "steller_server.api.admin.incidents",
    "steller_server.api.admin.webhooks",
)


def all_groups() -> list[Endpoints]:
    groups: list[Endpoints] = []
    for name in _MODULES:
        module = importlib.import_module(name)
        groups.append(module.endpoints)
    return groups
