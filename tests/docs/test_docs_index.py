"""docs/index.md: the quickstart runs (and so does every Python block of the README, which carries
the same snippet), and every relative link points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "index.md"
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def run_python(code: str, where: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs_snippet"}
    exec(compile(code, where, "exec"), namespace)
    return namespace


def test_the_quickstart_places_and_waits_for_a_sandbox_order(
    docs_server: Any, doc_blocks: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = [b for b in doc_blocks(INDEX) if b.language == "python"]
    assert [b.title for b in blocks] == ["Quickstart"]
    code = blocks[0].code
    assert len(code.strip().splitlines()) <= 10
    namespace = run_python(code, f"{INDEX.name}:{blocks[0].where}")
    assert namespace["order"].status == "completed"
    printed = capsys.readouterr().out
    assert re.match(r"completed 50\.00 \['[0-9a-f]{32}'\]", printed), printed


def test_readme_python_blocks_run(docs_server: Any, doc_blocks: Any) -> None:
    """The README's ten-line quickstart places and waits for a real sandbox order."""
    blocks = [b for b in doc_blocks(ROOT / "README.md", strict=False) if b.language == "python"]
    assert blocks, "README.md lost its quickstart"
    for block in blocks:
        run_python(block.code, f"README.md:{block.where}")


@pytest.mark.parametrize(
    "document",
    ["docs/index.md", "docs/integration-guide.md", "docs/onboarding-runbook.md"],
)
def test_relative_links_resolve(document: str) -> None:
    path = ROOT / document
    missing = [
        target
        for target, _ in LINK.findall(path.read_text(encoding="utf-8"))
        if "://" not in target and not (path.parent / target).exists()
    ]
    assert not missing, f"{document}: broken links {missing}"
