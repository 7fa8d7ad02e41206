"""Onboard a partner as a Steller admin: create it, fund it, approve products, issue keys.

    STELLER_ADMIN_EMAIL=ops@steller.example STELLER_ADMIN_PASSWORD=… \\
      python examples/admin_onboard_partner.py --name "Acme" --email dev@acme.example \\
        --fund 500.00 --approve AMZ-US-50=-5 --approve AMZ-US-VAR=-2 [--first-order]

The sales-led path of docs/onboarding-runbook.md (the partner does not sign up itself):

1. log in (``StellerAdmin.login``; sandbox defaults ``admin@steller.sandbox`` /
   ``steller-sandbox-admin``);
2. create the partner (or reuse the one with this email), with its wallet;
3. credit the wallet with an ``Idempotency-Key`` derived from ``--payment-ref``, so re-running the
   script never credits twice;
4. approve the products at the agreed discounts (``replace=True``: exactly this set; the profit
   guard refuses a price below cost, naming each entry);
5. issue an ``ordering`` and a ``finance`` key and print them **once** (hand them over through a
   channel that expires);
6. with ``--first-order``, place a test order with the new ordering key and print its trail.

``STELLER_BASE_URL`` defaults to ``http://127.0.0.1:8000``. Exits 1 when a step is refused.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid

import steller
from steller.admin import StellerAdmin

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="Example Partner")
    parser.add_argument("--email", default=f"partner+{uuid.uuid4().hex[:8]}@partner.example")
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--fund", default="500.00", help="amount to credit")
    parser.add_argument(
        "--payment-ref",
        default="prepayment-1",
        help="your payment reference (makes the credit idempotent)",
    )
    parser.add_argument(
        "--approve",
        action="append",
        metavar="SKU=DISCOUNT",
        help="e.g. AMZ-US-50=-5 (negative: a markup); repeat",
    )
    parser.add_argument("--first-order", action="store_true")
    args = parser.parse_args(argv)
    approvals = dict(item.split("=", 1) for item in (args.approve or ["AMZ-US-50=-5"]))
    base_url = os.environ.get("STELLER_BASE_URL", DEFAULT_BASE_URL)
    email = os.environ.get("STELLER_ADMIN_EMAIL", "admin@steller.sandbox")
    password = os.environ.get("STELLER_ADMIN_PASSWORD", "steller-sandbox-admin")

    with StellerAdmin.login(email, password, base_url=base_url) as admin:
        existing = [p for p in admin.partners.list(q=args.email) if p.email == args.email]
        if existing:
            partner = existing[0]
            print(f"partner {partner.id} already exists ({partner.status})")
        else:
            partner = admin.partners.create(
                name=args.name, email=args.email, currency=args.currency
            )
            print(f"created partner {partner.id} {partner.name} <{partner.email}>")

        movement = admin.partners.wallet.credit(
            partner.id,
            amount=args.fund,
            reason=f"Prepayment {args.payment_ref}",
            idempotency_key=f"credit-{partner.id}-{args.payment_ref}",
        )
        print(
            f"wallet credited {movement.entry.amount}: balance {movement.wallet.balance} "
            f"{movement.wallet.currency}"
        )

        try:
            approved = admin.partners.products.approve(partner.id, approvals, replace=True)
        except steller.UnprocessableEntityError as err:
            print(f"approval refused ({err.code}):", file=sys.stderr)
            for pointer, message in err.errors:
                print(f"  {pointer}: {message}", file=sys.stderr)
            return 1
        for product in approved.data:
            print(
                f"approved {product.sku} at {product.discount_percent} %: "
                f"{product.unit_price_min} to {product.unit_price_max} {product.currency}"
            )

        ordering = admin.partners.keys.create(partner.id, role="ordering")
        finance = admin.partners.keys.create(partner.id, role="finance")
        print(f"ordering key {ordering.id}: {ordering.key}")
        print(f"finance key {finance.id}: {finance.key}")

    if args.first_order:
        sku = next(iter(approvals))
        with steller.Steller(api_key=ordering.key, base_url=base_url) as shop:
            product = next(iter(shop.catalog.list(sku=sku)))
            order = shop.orders.create_and_wait(
                sku=sku,
                face_value=str(product.min_face_value),
                quantity=1,
                reference_id=f"onboarding-test-{uuid.uuid4().hex[:8]}",
                timeout=120,
            )
            print(f"first order {order.id}: {order.status}")
            print(shop.orders.trail(order.id).sentence)
            if order.status != "completed":
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
