"""The admin onboarding journey through the SDK, in process against the real sandbox app: an admin
logs in, creates a partner, credits its wallet, approves a product at a discount and issues a
key; the partner orders with that key (fulfilled by the in-process worker); the admin sees the
order and every step in the audit log, whose hash chain verifies.
"""

from __future__ import annotations

import itertools
import secrets
from decimal import Decimal

import httpx
import pytest

import steller
from steller.admin import AsyncStellerAdmin, StellerAdmin
from steller.models import AdminOrder, AdminPartner, AuditEntry, Order
from steller_server.sandbox_mode import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, Sandbox
from tests.sdk_e2e.sdk_e2e_support import BASE_URL, PortalServer

SKU = "SIM-OK-10"
FUNDING = Decimal("250.00")


def check_new_partner(partner: AdminPartner, email: str) -> None:
    assert partner.email == email
    assert partner.status == "active"
    assert partner.balance == Decimal("0")


def check_admin_view(seen: AdminOrder, order: Order, partner: AdminPartner) -> None:
    assert seen.id == order.id
    assert seen.partner_id == partner.id
    assert seen.partner_name == partner.name
    assert seen.status == "completed"
    assert seen.total == order.total
    assert seen.vendor_request_id


ONBOARDING = ["key.create", "product.approve", "wallet.credit", "partner.create", "admin.login"]


def check_audit(entries: list[AuditEntry], partner: AdminPartner) -> None:
    """The admin's steps, newest first, each chained to the previous entry."""
    assert [entry.action for entry in entries] == ONBOARDING
    assert entries[3].target_id == partner.id
    assert entries[1].target_id == f"{partner.id}/{SKU}"
    for later, earlier in itertools.pairwise(entries):
        assert later.sequence == earlier.sequence + 1
        assert later.prev_hash == earlier.hash


def test_sync_admin_onboards_a_partner_who_orders(sync_server: PortalServer) -> None:
    http = sync_server.http
    email = f"acme-{secrets.token_hex(3)}@example.com"

    with pytest.raises(steller.AuthenticationError):
        StellerAdmin.login(DEFAULT_ADMIN_EMAIL, "not the password", http_client=http)

    with StellerAdmin.login(DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, http_client=http) as admin:
        assert admin.session is not None
        assert admin.session.user.role == "admin"
        admin_id = admin.session.user.id

        partner = admin.partners.create(name="Acme", email=email)
        check_new_partner(partner, email)
        movement = admin.partners.wallet.credit(partner.id, amount=FUNDING, reason="Prepayment")
        assert movement is not None
        assert admin.partners.wallet.get(partner.id).balance == FUNDING
        approved = admin.partners.products.approve(partner.id, {SKU: "2"})
        assert [p.sku for p in approved.data] == [SKU]
        assert approved.data[0].discount_percent == Decimal("2")
        key = admin.partners.keys.create(partner.id, role="developer")
        assert key.key.startswith("stlr_test_")

        with steller.Steller(api_key=key.key, http_client=http) as client:
            assert [p.sku for p in client.catalog.list()] == [SKU]
            quote = client.orders.quote(sku=SKU, face_value="10.00", quantity=1)
            assert quote.discount_percent == Decimal("2")
            order = client.orders.create_and_wait(
                sku=SKU,
                face_value="10.00",
                quantity=1,
                reference_id="first",
                poll_interval=0.05,
                timeout=30,
            )
            assert order.status == "completed"
            assert order.total == quote.total
            assert client.wallet.get().balance == FUNDING - order.total

        check_admin_view(admin.orders.get(order.id), order, partner)
        assert order.id in {o.id for o in admin.orders.list(partner_id=partner.id)}
        assert admin.partners.get(partner.id).balance == FUNDING - order.total
        assert [k.id for k in admin.partners.keys.list(partner.id)] == [key.id]

        entries = list(admin.audit_log.list(actor=f"admin:{admin_id}"))
        check_audit(entries, partner)
        verification = admin.audit_log.verify()
        assert verification.valid is True
        assert verification.first_invalid_id is None
        assert verification.entries_checked >= len(entries)


async def test_async_admin_onboards_a_partner_who_orders(async_sandbox: Sandbox) -> None:
    transport = httpx.ASGITransport(app=async_sandbox.app)
    email = f"acme-{secrets.token_hex(3)}@example.com"

    admin = await AsyncStellerAdmin.login(
        DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, base_url=BASE_URL, transport=transport
    )
    async with admin:
        assert admin.session is not None
        partner = await admin.partners.create(name="Acme", email=email)
        check_new_partner(partner, email)
        await admin.partners.wallet.credit(partner.id, amount="250.00", reason="Prepayment")
        await admin.partners.products.approve(partner.id, {SKU: "2"})
        key = await admin.partners.keys.create(partner.id, role="developer")

        async with steller.AsyncSteller(
            api_key=key.key, base_url=BASE_URL, transport=transport
        ) as client:
            order = await client.orders.create_and_wait(
                sku=SKU,
                face_value="10.00",
                quantity=1,
                reference_id="first",
                poll_interval=0.05,
                timeout=30,
            )
            assert order.status == "completed"
            assert (await client.wallet.get()).balance == FUNDING - order.total

        check_admin_view(await admin.orders.get(order.id), order, partner)
        actor = f"admin:{admin.session.user.id}"
        check_audit([e async for e in admin.audit_log.list(actor=actor)], partner)
        assert (await admin.audit_log.verify()).valid is True
