"""Convert openapi.yaml into the Postman collection with openapi-to-postmanv2.

    python tools/generate_postman.py [--node-bin DIR] [--check]

The converter's output is post-processed so the committed file is reproducible (random ids become
stable ones) and usable at once (collection variables for the base URL, the partner API key and the
admin token; every partner request authenticates with {{apiKey}}, every admin one
with {{adminToken}}).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
TARGET = ROOT / "postman" / "steller.postman_collection.json"
NAMESPACE = uuid.UUID("6f1c2b1e-5d0a-4a8e-9a51-5e7a1c0d2b33")
OPTIONS = ",".join(
    [
        "folderStrategy=Tags",
        "parametersResolution=Example",
        "includeAuthInfoInExample=false",
        "schemaFaker=false",
    ]
)
VARIABLES = [
    {"key": "baseUrl", "value": "http://127.0.0.1:8000", "type": "string"},
    {"key": "apiKey", "value": "", "type": "string"},
    {"key": "adminToken", "value": "", "type": "string"},
]


def _stabilise(node: Any, trail: str) -> None:
    """Replace generated uuids with uuid5 values derived from each node's place in the tree."""
    if isinstance(node, dict):
        if "id" in node and isinstance(node["id"], str):
            node["id"] = str(uuid.uuid5(NAMESPACE, trail))
        for key, value in node.items():
            _stabilise(value, f"{trail}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            name = value.get("name", index) if isinstance(value, dict) else index
            _stabilise(value, f"{trail}/{index}:{name}")


def _fresh_idempotency_keys(node: Any) -> None:
    """Every send gets its own Idempotency-Key; a fixed example value would make the second
    request with an edited body fail with 422 idempotency_key_reused."""
    if isinstance(node, dict):
        if str(node.get("key", "")).lower() == "idempotency-key" and "value" in node:
            node["value"] = "{{$guid}}"
        for value in node.values():
            _fresh_idempotency_keys(value)
    elif isinstance(node, list):
        for value in node:
            _fresh_idempotency_keys(value)


def _fix_auth(node: Any) -> None:
    if isinstance(node, dict):
        auth = node.get("auth")
        if isinstance(auth, dict) and auth.get("type") == "bearer":
            auth["bearer"] = [{"key": "token", "value": "{{adminToken}}", "type": "string"}]
        if isinstance(auth, dict) and auth.get("type") == "apikey":
            for entry in auth.get("apikey", []):
                if entry.get("key") == "value":
                    entry["value"] = "{{apiKey}}"
        for value in node.values():
            _fix_auth(value)
    elif isinstance(node, list):
        for value in node:
            _fix_auth(value)


def render(node_bin: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "collection.json"
        subprocess.run(
            [str(node_bin / "openapi2postmanv2"), "-s", str(SPEC), "-o", str(out), "-O", OPTIONS],
            check=True,
            capture_output=True,
        )
        collection = json.loads(out.read_text())
    collection["info"]["_postman_id"] = str(uuid.uuid5(NAMESPACE, "collection"))
    _stabilise(collection.get("item", []), "item")
    _fix_auth(collection)
    _fresh_idempotency_keys(collection.get("item", []))
    collection["variable"] = VARIABLES
    return json.dumps(collection, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node-bin", type=Path, default=None)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    node_bin = args.node_bin
    if node_bin is None:
        sys.path.insert(0, str(ROOT / "tools"))
        from node_tools import ensure  # noqa: PLC0415 - tools/ is not a package

        node_bin = ensure()
    text = render(node_bin)
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} is stale: run `nox -s postman`\n")
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    sys.stdout.write(f"wrote {TARGET.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
