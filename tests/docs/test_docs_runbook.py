"""docs/onboarding-runbook.md: the Python steps run in order in one namespace, then the shell steps
run in order as one script (so `$PARTNER_ID`, `$TOKEN`… flow from step to step), each path
onboarding its own partner on the docs sandbox from signup to a completed first order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "onboarding-runbook.md"


def test_the_runbook_python_steps_onboard_a_partner(
    docs_server: Any, doc_blocks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in docs_server.env().items():
        if name.startswith("STELLER_"):
            monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"__name__": "runbook"}
    python = [b for b in doc_blocks(RUNBOOK) if b.language == "python"]
    assert [b.title for b in python][:2] == ["Setup", "1. Sign up"]
    for block in python:
        exec(compile(block.code, f"{RUNBOOK.name}:{block.where}", "exec"), namespace)

    order = namespace["first_order"]
    assert order.status == "completed"
    assert order.total == Decimal("52.50")
    # Trial credit 1000.00 (sandbox signup) + 500.00 funding - 52.50.
    assert namespace["wallet"].balance == Decimal("1447.50")
    assert namespace["trail"].sentence.endswith("charged 52.50, balance 1447.50")
    assert {"wallet.credit", "product.approve", "key.create"} <= namespace["actions"]


def test_the_runbook_shell_steps_onboard_a_partner(
    docs_server: Any, doc_blocks: Any, run_bash: Any
) -> None:
    bash = [b for b in doc_blocks(RUNBOOK) if b.language == "bash"]
    assert len(bash) >= 8
    script = "\n".join(f"# --- {b.where}\n{b.code}" for b in bash)
    result = run_bash(script, docs_server.env(), where=f"{RUNBOOK.name} shell steps")
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("first order ord_") and line.endswith(": completed") for line in lines
    ), result.stdout
    assert "52.50" in lines  # the partner price of AMZ-US-50 at a 5 % markup
    assert any(line.endswith("charged 52.50, balance 1447.50") for line in lines), result.stdout
    assert lines[-1] == "true"  # the audit log verifies
