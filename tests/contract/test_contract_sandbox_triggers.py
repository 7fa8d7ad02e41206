"""The contract's description lists every sandbox scenario trigger the simulator implements."""

from __future__ import annotations

from pathlib import Path

import yaml

from steller_sandbox.scenarios import MAGIC_FACE_VALUES, SCENARIO_SKUS

ROOT = Path(__file__).resolve().parents[2]


def test_every_trigger_is_documented_in_openapi_yaml() -> None:
    description = yaml.safe_load((ROOT / "openapi.yaml").read_text())["info"]["description"]
    rows = [line for line in description.splitlines() if line.startswith("| `")]
    for value in MAGIC_FACE_VALUES:
        assert any(line.startswith(f"| `{value:.2f}`") for line in rows), value
    for sku, scenario in SCENARIO_SKUS.items():
        assert any(f"`{sku}`" in line for line in rows), (sku, scenario)
