"""Place your first gift-card order and wait for the cards.

    STELLER_API_KEY=stlr_test_… python examples/first_order.py [SKU] [FACE_VALUE]

Configuration (environment):

* ``STELLER_BASE_URL``: the API, default ``http://127.0.0.1:8000`` (``steller-server sandbox``);
* ``STELLER_API_KEY``: your key. Without one, on a sandbox, the script signs up a throwaway
  sandbox account (trial money, sandbox catalog approved) and uses its key.

Steps: pick the product from your catalog, quote it, order it with the quoted total as
``expectedTotal`` and a fresh ``referenceId``, wait until the order is final, print the cards and
the money trail. Exits 1 if the order did not complete.
"""

from __future__ import annotations

import os
import sys
import uuid

import steller

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def api_key_for(base_url: str) -> str:
    key = os.environ.get("STELLER_API_KEY")
    if key:
        return key
    account = steller.signup(
        name="Example Shop",
        email=f"example+{uuid.uuid4().hex[:10]}@shop.example",
        base_url=base_url,
    )
    print(
        f"signed up sandbox partner {account.partner.id} "
        f"(wallet {account.wallet.balance} {account.wallet.currency})"
    )
    return account.api_key.key


def main(argv: list[str]) -> int:
    sku = argv[1] if len(argv) > 1 else "AMZ-US-50"
    base_url = os.environ.get("STELLER_BASE_URL", DEFAULT_BASE_URL)
    with steller.Steller(api_key=api_key_for(base_url), base_url=base_url) as client:
        product = next(iter(client.catalog.list(sku=sku)), None)
        if product is None:
            print(f"{sku} is not in your catalog", file=sys.stderr)
            return 1
        face_value = argv[2] if len(argv) > 2 else str(product.min_face_value)
        quote = client.orders.quote(sku=sku, face_value=face_value, quantity=1)
        print(
            f"{product.name}: face value {face_value} {product.face_currency}, "
            f"price {quote.total} {quote.currency}, balance {quote.wallet_balance}"
        )
        if not quote.sufficient_funds:
            print("insufficient funds: top up your wallet first", file=sys.stderr)
            return 1

        reference_id = f"first-order-{uuid.uuid4().hex[:12]}"  # store it before ordering
        try:
            order = client.orders.create_and_wait(
                sku=sku,
                face_value=face_value,
                quantity=1,
                reference_id=reference_id,
                expected_total=quote.total,
                timeout=120,
            )
        except steller.PriceAboveExpectedTotalError as err:
            print(f"the price changed since the quote: {err.detail}", file=sys.stderr)
            return 1
        except steller.OrderWaitTimeout as err:
            print(
                f"order {err.order.id} is still {err.order.status}; it will finish in the "
                "background (check it later or wait for its webhook)",
                file=sys.stderr,
            )
            return 1

        print(
            f"order {order.id} ({reference_id}): {order.status}, charged {order.total} "
            f"{order.currency}, refunded {order.refunded_amount}"
        )
        for card in order.cards or []:
            print(
                f"  card {card.serial_number}: code {card.code} pin {card.pin} "
                f"expires {card.expires_at:%Y-%m-%d}"
            )
        print(client.orders.trail(order.id).sentence)
        return 0 if order.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
