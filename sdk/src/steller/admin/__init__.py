"""The admin API client, for Steller staff: partners, wallets, approvals, orders, audit, ops.

::

    from steller.admin import StellerAdmin

    with StellerAdmin.login("ops@steller.example", password, environment="sandbox") as admin:
        partner = admin.partners.create(name="Acme", email="dev@acme.example")
        admin.partners.wallet.credit(partner.id, amount="500.00", reason="Prepayment")
        admin.partners.products.approve(partner.id, {"AMZ-US": "5"})
        key = admin.partners.keys.create(partner.id, role="developer")

Errors, pages and raw responses are the same as the partner client's (see :mod:`steller`).
"""

from ._client import AsyncStellerAdmin, StellerAdmin

__all__ = ["AsyncStellerAdmin", "StellerAdmin"]
