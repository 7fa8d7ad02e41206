"""The server conforms to openapi.yaml under generated traffic (schemathesis).

Every implemented operation is called with schema-valid and schema-invalid data, with a valid
partner key and admin token, against a real uvicorn server on loopback. The checks: no 5xx; every
status, content type, header and body is one the contract documents; invalid input is rejected
with a 4xx. Semantic refusals of valid-looking input (402, 409, 422) are legitimate, so the
"positive data acceptance" check is left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from steller_sandbox.testing import serve_in_thread
from steller_server.api import groups, limits
from steller_server.app import create_app
from steller_server.db.engine import Database
from steller_server.db.migrate import upgrade
from steller_server.domain import admins, catalog, keys, ledger, money, partners
from steller_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTED = sorted(spec.operation_id for group in groups.all_groups() for spec in group.specs)
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml").include(operation_id=IMPLEMENTED)


async def _seed(settings: Settings) -> dict[str, str]:
    db = Database.from_settings(settings)
    try:
        async with db.write() as conn:
            await catalog.store_rates(conn, base="USD", rates={"EUR": Decimal("0.92")})
            await catalog.upsert_products(
                conn,
                items=[
                    {
                        "sku": "AMAZON-US-USD-50", "vendor_product_id": "400013",
                        "name": "Amazon US", "brand_name": "Amazon", "country_code": "US",
                        "categories": ["shopping"], "face_currency": "USD",
                        "denomination_type": "fixed", "min_face_minor": 5000,
                        "max_face_minor": 5000, "cost_min_minor": 4750, "cost_max_minor": 4750,
                        "cost_currency": "USD", "stock": None, "available": True,
                        "redemption_instructions": "Redeem at amazon.com", "terms": None,
                        "logo_url": None,
                    }
                ],
            )  # fmt: skip
        partner, wallet = await partners.create_partner(
            db, name="Acme", email="ops@acme.example", actor="system", settings=settings,
            currency="USD", low_balance_threshold=Decimal("0"),
        )  # fmt: skip
        async with db.write() as conn:
            await ledger.credit(
                conn, wallet_id=wallet.id, amount_minor=money.to_minor(Decimal("5000"), "USD"),
                description="Funding", actor="system",
            )  # fmt: skip
            await catalog.approve_products(
                conn, partner_id=partner.id, actor="system",
                items=[
                    catalog.ApprovalItem(sku="AMAZON-US-USD-50", discount_percent=Decimal("-5"))
                ],
                order_fee=settings.order_fee,
            )  # fmt: skip
            created = await keys.create_key(
                conn, partner_id=partner.id, environment=partner.environment, role="developer",
                secret_key=settings.effective_secret_key,
            )  # fmt: skip
            await admins.create_user(
                conn, email="root@steller.test", name="Root", role="admin",
                password="correct horse battery staple",
            )  # fmt: skip
        login = await admins.login(
            db, email="root@steller.test", password="correct horse battery staple",
            secret_key=settings.effective_secret_key, ttl=timedelta(hours=12),
        )  # fmt: skip
        assert login is not None
        return {"x-api-key": created.raw, "Authorization": f"Bearer {login.token}"}
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    path = tmp_path_factory.mktemp("schemathesis") / "steller.sqlite3"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="s" * 40)
    upgrade(settings)
    headers = asyncio.run(_seed(settings))
    # Generated traffic is far faster than any real partner: lift the limits so every case
    # reaches its handler (rate limiting itself is tested elsewhere).
    saved = dict(limits.DEFAULT_POLICIES)
    limits.DEFAULT_POLICIES.update({k: (10_000, w) for k, (_, w) in saved.items()})
    try:
        with serve_in_thread(create_app(settings)) as url:
            yield url, headers
    finally:
        limits.DEFAULT_POLICIES.update(saved)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_operation_conforms(case: schemathesis.Case, live: tuple[str, dict[str, str]]) -> None:
    base_url, headers = live
    case.call_and_validate(
        base_url=base_url,
        headers=headers,
        excluded_checks=[positive_data_acceptance],
    )
