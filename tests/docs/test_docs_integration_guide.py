"""docs/integration-guide.md: every sample runs, in document order, against the docs sandbox.

Python samples share one namespace (like a notebook); each shell sample runs alone with ``BASE``
and ``KEY`` (the key the Python samples signed up for); JSON samples must parse; the Node.js
webhook verifier is imported by ``node`` and checked against payloads signed by
``steller.webhooks.sign``. The guide's own webhook receiver receives the sandbox's real
deliveries through a loopback URL.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from steller import webhooks

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integration-guide.md"

NODE_HARNESS = """
import { readFileSync } from "node:fs";
import { verifyWebhook } from "./verify-webhook.mjs";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = cases.map(({ body, headers, secrets }) => {
  try {
    return { ok: true, event: verifyWebhook(Buffer.from(body, "utf8"), headers, secrets) };
  } catch (error) {
    return { ok: false, error: String(error.message) };
  }
});
console.log(JSON.stringify(results));
"""


def signed_cases() -> tuple[list[dict[str, Any]], list[bool]]:
    """Deliveries signed by the SDK: which must verify, which must be refused."""
    old, new, other = (webhooks.generate_secret() for _ in range(3))
    body = json.dumps(
        {
            "id": "evt_case0001",
            "type": "order.completed",
            "timestamp": "2026-11-03T10:15:42Z",
            "data": {"id": "ord_1"},
        },
        separators=(",", ":"),
    )
    now = int(time.time())

    def case(
        secrets: list[str], signers: list[str], *, ts: int = now, payload: str = body
    ) -> dict[str, Any]:
        headers = webhooks.sign(body, signers, msg_id="evt_case0001", timestamp=ts)
        return {"body": payload, "headers": headers, "secrets": secrets}

    cases = [
        (case([new], [new]), True),
        (case([new, old], [new, old]), True),  # rotation: two signatures
        (case([old], [new, old]), True),  # a receiver still on the old secret
        (case([new], [old]), False),
        (case([other], [new]), False),
        (case([new], [new], payload=body.replace("ord_1", "ord_2")), False),  # tampered
        (case([new], [new], ts=now - 3600), False),  # replayed an hour later
    ]
    return [c for c, _ in cases], [ok for _, ok in cases]


def check_node_verifier(code: str, node: str, tmp_path: Path) -> None:
    (tmp_path / "verify-webhook.mjs").write_text(code)
    (tmp_path / "harness.mjs").write_text(NODE_HARNESS)
    cases, expected = signed_cases()
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    result = subprocess.run(
        [node, "harness.mjs", "cases.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert [o["ok"] for o in outcomes] == expected, outcomes
    assert outcomes[0]["event"]["type"] == "order.completed"


def check_stdlib_verifier(verify: Any) -> None:
    cases, expected = signed_cases()
    outcomes = []
    for c in cases:
        try:
            event = verify(c["body"].encode(), c["headers"], c["secrets"])
        except ValueError:
            outcomes.append(False)
        else:
            assert event["id"] == "evt_case0001"
            outcomes.append(True)
    assert outcomes == expected


def test_every_sample_in_the_integration_guide_runs(
    docs_server: Any,
    doc_blocks: Any,
    run_bash: Any,
    node: str,
    forwarding_receiver: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver_url, forwarder = forwarding_receiver
    namespace: dict[str, Any] = {"__name__": "integration_guide"}
    forwarder.target = lambda: namespace.get("app")
    monkeypatch.setenv("WEBHOOK_URL", f"{receiver_url}/steller/webhooks")
    monkeypatch.delenv("STELLER_API_KEY", raising=False)
    monkeypatch.delenv("STELLER_BASE_URL", raising=False)

    blocks = doc_blocks(GUIDE)
    ran = {"python": 0, "bash": 0, "js": 0, "json": 0}
    for block in blocks:
        if block.language == "python":
            exec(compile(block.code, f"{GUIDE.name}:{block.where}", "exec"), namespace)
        elif block.language == "bash":
            key = namespace.get("api_key") or docs_server.demo_key
            run_bash(block.code, docs_server.env(KEY=key), where=f"{GUIDE.name} {block.where}")
        elif block.language == "js":
            check_node_verifier(block.code, node, tmp_path)
        elif block.language == "json":
            json.loads(block.code)
        else:
            continue
        ran[block.language] += 1
    assert ran["python"] >= 20, ran
    assert ran["bash"] >= 8, ran
    assert ran["js"] == 1, ran

    # The samples did what the prose says.
    check_stdlib_verifier(namespace["verify_webhook"])
    assert namespace["processed"][namespace["test_event"].id] == "webhook.test"
    assert namespace["processed"][namespace["rotated_test"].id] == "webhook.test"


def test_the_guide_explains_every_problem_code(openapi_spec: dict[str, Any]) -> None:
    codes = openapi_spec["components"]["schemas"]["ProblemCode"]["enum"]
    text = GUIDE.read_text(encoding="utf-8")
    errors_section = text.split("## 6. Errors", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in errors_section.splitlines()
        if line.startswith("| `")
    }
    assert rows == set(codes)
    assert "(errors.md)" in errors_section


def test_the_guide_lists_every_event_type_and_sandbox_trigger(
    openapi_spec: dict[str, Any],
) -> None:
    from steller_sandbox.scenarios import MAGIC_FACE_VALUES, SCENARIO_SKUS

    text = GUIDE.read_text(encoding="utf-8")
    for event_type in openapi_spec["components"]["schemas"]["EventType"]["enum"]:
        assert f"| `{event_type}` |" in text, event_type
    for value in MAGIC_FACE_VALUES:
        assert f"`{value}`" in text, value
    for sku in SCENARIO_SKUS:
        assert f"`{sku}`" in text, sku
