"""The whole partner and admin journey through the SDK over real HTTP, on the multi-process
deployment: admin login → catalog sync → partner signup → catalog, quote → webhook endpoint →
order fulfilled by a worker process at the simulator → same reference, no second debit → trail,
wallet, ledger → signed delivery verified → admin top-up, a role-limited key → a failed order
refunded → events → audit log → reconciliation clean."""

from __future__ import annotations

from decimal import Decimal

import pytest

import steller
from steller.models import OrderStatus
from tests.e2e.e2e_deploy import Deployment
from tests.e2e.e2e_support import (
    admin_client,
    ensure_catalog,
    new_tag,
    read_deliveries,
    signup_partner,
    verified,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SKU = "SIM-OK-10"
FAIL_SKU = "SIM-FAIL-10"
TRIAL = Decimal("1000.00")


def test_partner_and_admin_journey(deployment: Deployment) -> None:
    with admin_client(deployment) as admin:
        ensure_catalog(admin, deployment)
        assert any(p.sku == SKU for p in admin.products.list(limit=200))

        account = signup_partner(deployment, index=0, tag=new_tag())
        with steller.Steller(api_key=account.key, base_url=deployment.api_url) as client:
            assert client.me.get().id == account.partner_id
            (product,) = client.catalog.list(sku=SKU).data
            quote = client.orders.quote(sku=SKU, face_value=product.min_face_value, quantity=2)
            assert quote.total == quote.unit_price * 2
            assert quote.wallet_balance == TRIAL

            order = client.orders.create_and_wait(
                sku=SKU, face_value="10.00", quantity=2, reference_id="journey-1",
                expected_total=quote.total, poll_interval=0.2, timeout=60,
            )  # fmt: skip
            assert order.status == OrderStatus.completed, order
            assert order.cards is not None
            assert len(order.cards) == 2
            again = client.orders.create(
                sku=SKU, face_value="10.00", quantity=2, reference_id="journey-1",
                expected_total=quote.total,
            )  # fmt: skip
            assert again.id == order.id
            trail = client.orders.trail(order.id)
            assert trail.charged == quote.total
            wallet = client.wallet.get()
            assert wallet.balance == TRIAL - quote.total
            entries = list(client.wallet.transactions(limit=200))
            assert sum(e.amount for e in entries) == wallet.balance
            assert [e.type for e in entries if e.order_id == order.id] == ["debit"]

            # The order's event reached the receiver process, signed with this endpoint's secret.
            def completed_delivery() -> steller.webhooks.WebhookEvent | None:
                for delivery in read_deliveries(deployment.deliveries_path):
                    if delivery.path == account.path:
                        event = verified(delivery, account.secret)
                        if event.type == "order.completed" and event.data["id"] == order.id:
                            return event
                return None

            event = wait_until(completed_delivery, within=30, what="the order.completed delivery")
            assert client.events.get(event.id).type == "order.completed"

            # Admin: top up, issue an ordering-only key; the partner orders with it.
            movement = admin.partners.wallet.credit(
                account.partner_id, amount="250.00", reason="E2E top-up"
            )
            assert movement.wallet.balance == wallet.balance + Decimal("250.00")
            assert movement.entry.type == "credit"
            key = admin.partners.keys.create(account.partner_id, role="ordering")
        with steller.Steller(api_key=key.key, base_url=deployment.api_url) as ordering:
            failed = ordering.orders.create_and_wait(
                sku=FAIL_SKU, face_value="10.00", quantity=1, reference_id="journey-fail",
                poll_interval=0.2, timeout=60,
            )  # fmt: skip
            assert failed.status == OrderStatus.failed
            with pytest.raises(steller.PermissionDeniedError):
                ordering.webhook.get()
            final = ordering.wallet.get()
        assert final.balance == TRIAL - quote.total + Decimal("250.00")

        seen = admin.orders.get(failed.id)
        assert seen.status == OrderStatus.failed
        assert admin.audit_log.verify().valid
        run = admin.reconciliation.start()
        done = wait_until(
            lambda: (r := admin.reconciliation.get(run.id)).status != "running" and r,
            within=60,
            what="reconciliation",
            every=0.5,
        )
        assert done.status == "succeeded"
        assert done.findings == [], done.findings
