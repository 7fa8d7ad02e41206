"""API versions: date-named, pinned per partner at signup, echoed on every response.

The policy (what is breaking, how long a deprecated version lives) is in docs/versioning.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Version:
    name: str
    deprecated: date | None = None  # when it was deprecated
    sunset: date | None = None  # when it stops being served


CURRENT = "2026-11-01"
VERSIONS: dict[str, Version] = {CURRENT: Version(CURRENT)}


def lookup(name: str) -> Version | None:
    return VERSIONS.get(name)


def headers_for(name: str) -> dict[str, str]:
    """`Steller-Version`, plus `Deprecation`/`Sunset` (RFC 9745 / RFC 8594) for retiring
    versions."""
    out = {"Steller-Version": name}
    version = VERSIONS.get(name)
    if version is not None and version.deprecated is not None:
        out["Deprecation"] = f"@{_epoch(version.deprecated)}"
        if version.sunset is not None:
            out["Sunset"] = version.sunset.strftime("%a, %d %b %Y 00:00:00 GMT")
    return out


def _epoch(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86400
