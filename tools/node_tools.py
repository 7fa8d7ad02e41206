"""Install the project's Node.js tools (pinned) into one folder and return their bin path.

The OpenAPI linter and the Postman converter come from the npm registry; nox sessions and the drift
tests share one install under `.nox/_node` so a run installs them once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = ROOT / ".nox" / "_node"
PACKAGES = {
    "@redocly/cli": "2.77.0",
    "openapi-to-postmanv2": "6.3.3",
    "newman": "6.2.2",
}


def ensure() -> Path:
    """Install the pinned packages if missing; return the directory holding their executables."""
    manifest = PREFIX / "package.json"
    wanted = {"name": "steller-node-tools", "private": True, "dependencies": PACKAGES}
    current = json.loads(manifest.read_text()) if manifest.exists() else None
    bin_dir = PREFIX / "node_modules" / ".bin"
    if current != wanted or not bin_dir.exists():
        if shutil.which("npm") is None:
            raise SystemExit("npm is required for the OpenAPI linter and the Postman tools")
        PREFIX.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(wanted, indent=2))
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PREFIX,
            check=True,
        )
    return bin_dir


if __name__ == "__main__":
    sys.stdout.write(f"{ensure()}\n")
