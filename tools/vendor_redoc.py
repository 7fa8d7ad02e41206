"""Fetch the Redoc standalone bundle from the npm registry into the server package.

    python tools/vendor_redoc.py [--check]

The server's `/docs` page serves this file itself: no CDN at run time. The version is pinned here
and the file's sha256 is recorded next to it, so a test can tell the committed asset is the
pinned one. One patch is applied: the footer logo's CDN URL becomes an inline image.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "server" / "src" / "steller_server" / "static"
VERSION = "2.5.4"
# The bundle's only reference to another host is the "API docs by Redocly" footer logo; it becomes
# an inline image so the page makes no request off this server.
CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
INLINE_LOGO = (
    b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
)
FILES = {
    "package/bundles/redoc.standalone.js": "redoc.standalone.js",
    "package/bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
}


def fetch() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"redoc@{VERSION}", "--silent"], cwd=tmp, check=True,
            capture_output=True,
        )  # fmt: skip
        tarball = next(Path(tmp).glob("redoc-*.tgz"))
        out: dict[str, bytes] = {}
        with tarfile.open(tarball) as archive:
            for member, name in FILES.items():
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise SystemExit(f"{member} missing from redoc@{VERSION}")
                out[name] = extracted.read().replace(CDN_LOGO, INLINE_LOGO)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="verify the committed sha256 only")
    args = parser.parse_args()
    manifest = STATIC / "redoc.sha256"
    if args.check:
        recorded = manifest.read_text().split()[0]
        actual = hashlib.sha256((STATIC / "redoc.standalone.js").read_bytes()).hexdigest()
        return 0 if recorded == actual else 1
    STATIC.mkdir(parents=True, exist_ok=True)
    for name, data in fetch().items():
        (STATIC / name).write_bytes(data)
    digest = hashlib.sha256((STATIC / "redoc.standalone.js").read_bytes()).hexdigest()
    manifest.write_text(f"{digest}  redoc.standalone.js (redoc@{VERSION} from the npm registry)\n")
    sys.stdout.write(f"vendored redoc@{VERSION} ({digest[:12]})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
