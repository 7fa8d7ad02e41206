"""Stateful contract fuzzing against the multi-process deployment (schemathesis).

schemathesis chains operations along the OpenAPI links in openapi.yaml (signup → revoke its key,
order → get order and trail, events → get → redeliver, new key → revoke) and sends each
generated sequence over real HTTP with a partner key and an admin token, for
``STELLER_E2E_FUZZ_SECONDS``. The checks: no 5xx; every status, header and body is one the
contract documents (the "positive data acceptance" check is left out, as in the stateless run:
402/409/422 refusals of valid-looking input are legitimate; nor "ignored auth": from one client
address the server throttles repeated refused credentials with 429, which that check does not
accept — authentication is covered by the stateless run and the unit tests); and nothing of
another partner —
its id, its orders, its events — ever appears in an answer to a partner route.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

import steller
from steller_server.api import groups
from tests.e2e.conftest import E2EConfig
from tests.e2e.e2e_deploy import Deployment
from tests.e2e.e2e_support import admin_client, ensure_catalog, new_tag, signup_partner

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTED = sorted(spec.operation_id for group in groups.all_groups() for spec in group.specs)
SCENARIOS_PER_ROUND = 5
STEPS_PER_SCENARIO = 6


def _foreign_ids(deployment: Deployment, tag: str) -> set[str]:
    """Another partner with an order and events: ids that must never leak to the fuzzed one."""
    other = signup_partner(deployment, index=1, tag=tag)
    with steller.Steller(api_key=other.key, base_url=deployment.api_url) as client:
        order = client.orders.create_and_wait(
            sku="SIM-OK-10", face_value="10.00", quantity=1, reference_id="other-1",
            poll_interval=0.2, timeout=60,
        )  # fmt: skip
        ids = {other.partner_id, order.id, client.wallet.get().id}
        ids |= {e.id for e in client.events.list(limit=50)}
        ids |= {e.id for e in client.wallet.transactions(limit=50)}
    return ids


def test_stateful_contract(deployment: Deployment, e2e: E2EConfig) -> None:
    tag = new_tag()
    with admin_client(deployment) as admin:
        ensure_catalog(admin, deployment)
        mine = signup_partner(deployment, index=0, tag=tag)
        admin.partners.wallet.credit(mine.partner_id, amount="5000.00", reason="E2E fuzzing")
        assert admin.session is not None
        token = admin.session.token
        foreign = _foreign_ids(deployment, tag)
    headers = {"x-api-key": mine.key, "Authorization": f"Bearer {token}"}
    leaks: list[str] = []
    calls = [0]

    schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml").include(operation_id=IMPLEMENTED)
    base = schema.as_state_machine()

    class Deployed(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": deployment.api_url, "headers": headers}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            calls[0] += 1
            if not case.path.startswith("/api/admin"):
                text = response.content.decode(errors="replace")
                leaks.extend(f"{case.method} {case.path}: {i}" for i in foreign if i in text)
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance, ignored_auth],
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    settings = hypothesis.settings(
        max_examples=SCENARIOS_PER_ROUND,
        stateful_step_count=STEPS_PER_SCENARIO,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    deadline = time.monotonic() + e2e.fuzz_seconds
    rounds = 0
    while time.monotonic() < deadline:
        Deployed.run(settings=settings)
        rounds += 1
    print(f"\nstateful fuzzing: {rounds} rounds, {calls[0]} calls in {e2e.fuzz_seconds:.0f} s")
    assert calls[0] > 0
    assert not leaks, leaks
    deployment.assert_running()
