"""docs/errors.md is generated from openapi.yaml by tools/generate_error_docs.py and kept fresh."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_error_docs", ROOT / "tools" / "generate_error_docs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_errors_md_is_up_to_date(openapi_spec: dict[str, Any]) -> None:
    expected = load_generator().render(openapi_spec)
    actual = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/errors.md is stale: run `.venv/bin/python tools/generate_error_docs.py`"
    )


def test_errors_md_documents_every_problem_code_with_advice(openapi_spec: dict[str, Any]) -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    sections = text.split('<a id="')[1:]
    codes = openapi_spec["components"]["schemas"]["ProblemCode"]["enum"]
    assert [s.split('"', 1)[0] for s in sections] == codes
    for section in sections:
        assert "**What to do.**" in section
        assert "**SDK:** `steller." in section
        assert "Returned by" in section or "declare this status" in section


def test_errors_md_lists_the_operations_from_the_contract() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    insufficient = text.split("## `insufficient_funds`", 1)[1].split("\n## ", 1)[0]
    assert "`POST /api/orders` (createOrder)" in insufficient
    assert "quoteOrder" not in insufficient  # a quote never refuses for money
    conflict = text.split("## `reference_conflict`", 1)[1].split("\n## ", 1)[0]
    assert conflict.count("\n- ") == 1


def test_the_generator_refuses_a_code_without_advice(openapi_spec: dict[str, Any]) -> None:
    generator = load_generator()
    spec = {
        **openapi_spec,
        "components": {
            **openapi_spec["components"],
            "schemas": {
                **openapi_spec["components"]["schemas"],
                "ProblemCode": {
                    "enum": [
                        *openapi_spec["components"]["schemas"]["ProblemCode"]["enum"],
                        "brand_new_code",
                    ]
                },
            },
        },
    }
    with pytest.raises(SystemExit, match="brand_new_code"):
        generator.render(spec)
