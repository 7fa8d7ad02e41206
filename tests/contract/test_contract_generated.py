"""Generated artefacts never drift from openapi.yaml: the SDK models and the Postman collection."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_sdk_models_match_a_fresh_generation() -> None:
    if (
        shutil.which("datamodel-codegen") is None
        and not (Path(sys.executable).parent / "datamodel-codegen").exists()
    ):
        pytest.fail("datamodel-codegen is missing: install requirements-dev.txt")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "tools/generate_models.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generated_models_name_the_spec_they_came_from() -> None:
    import hashlib

    digest = hashlib.sha256((ROOT / "openapi.yaml").read_bytes()).hexdigest()
    header = (ROOT / "sdk/src/steller/models/_generated.py").read_text().splitlines()[:3]
    assert header[0].startswith("# GENERATED FILE - do not edit")
    assert header[1] == f"# Source: openapi.yaml sha256={digest}"


def test_postman_collection_matches_a_fresh_conversion() -> None:
    node_bin = os.environ.get("STELLER_NODE_BIN")
    if not node_bin:
        if os.environ.get("CI"):
            pytest.fail("STELLER_NODE_BIN is not set: run the suite through `nox -s tests`")
        pytest.skip("STELLER_NODE_BIN not set (nox -s tests sets it)")
    result = subprocess.run(
        [sys.executable, "tools/generate_postman.py", "--node-bin", node_bin, "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_vendored_redoc_bundle_is_the_pinned_one() -> None:
    result = subprocess.run(
        [sys.executable, "tools/vendor_redoc.py", "--check"], cwd=ROOT, check=False
    )
    assert result.returncode == 0, "server/src/steller_server/static differs from redoc.sha256"
