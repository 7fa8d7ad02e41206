"""Each distribution stands alone: the SDK needs only httpx, attrs, cattrs and tenacity."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_sdk_runtime_dependencies_are_exactly_the_four() -> None:
    project = tomllib.loads((ROOT / "sdk/pyproject.toml").read_text())["project"]
    assert _names(project["dependencies"]) == {"httpx", "attrs", "cattrs", "tenacity"}


def test_sdk_never_imports_the_server_or_the_sandbox() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "sdk/src/steller").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+steller_(server|sandbox)\b", path.read_text(), re.M)
    ]
    assert offenders == []


def test_server_wheel_ships_the_contract() -> None:
    config = tomllib.loads((ROOT / "server/pyproject.toml").read_text())
    force = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force == {"../openapi.yaml": "steller_server/openapi.yaml"}
