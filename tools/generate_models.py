"""Generate the SDK's typed models from openapi.yaml with datamodel-code-generator.

    python tools/generate_models.py          # write sdk/src/steller/models/_generated.py
    python tools/generate_models.py --check  # exit 1 if the committed file is stale

The output is plain `dataclasses` (keyword-only, StrEnum enums, Decimal money, aware datetimes);
the cattrs converter in `steller.models` owns every wire rule; the generated file holds data only.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
TARGET = ROOT / "sdk" / "src" / "steller" / "models" / "_generated.py"
FLAGS = [
    "--input-file-type", "openapi",
    "--output-model-type", "dataclasses.dataclass",
    "--target-python-version", "3.11",
    "--output-datetime-class", "datetime",
    "--use-standard-collections",
    "--use-union-operator",
    "--use-standard-primitive-types",
    "--use-specialized-enum",
    "--use-typed-nullable-map-values",
    "--keyword-only",
    "--use-field-description",
    "--use-schema-description",
    "--snake-case-field",
    "--collapse-root-models",
    "--formatters", "builtin",
    "--disable-timestamp",
]  # fmt: skip


def render() -> str:
    """Return the generated module text for the current openapi.yaml."""
    digest = hashlib.sha256(SPEC.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "_generated.py"
        subprocess.run(
            ["datamodel-codegen", "--input", str(SPEC), "--output", str(out), *FLAGS],
            check=True,
        )
        body = out.read_text()
    header = (
        "# GENERATED FILE - do not edit. Run `nox -s generate` to refresh it.\n"
        f"# Source: openapi.yaml sha256={digest}\n"
        "# Generator: datamodel-code-generator (flags in tools/generate_models.py)\n"
        "# mypy: ignore-errors\n"
    )
    return header + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} is stale: run `nox -s generate`\n")
            return 1
        return 0
    TARGET.write_text(text)
    sys.stdout.write(f"wrote {TARGET.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
