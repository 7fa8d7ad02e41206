"""Wire formatting shared by the routes: Bamboo-style datetimes and JSON with decimals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

__all__ = ["BambooJSONResponse", "format_date", "format_datetime", "message"]


def format_datetime(value: datetime) -> str:
    """Bamboo's .NET style: naive UTC, seven fractional digits (``2022-08-22T09:06:28.4131483``)."""
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0"


def format_date(value: datetime) -> str:
    """Midnight of the day, as the reports print it (``2024-05-16T00:00:00``)."""
    return f"{value.astimezone(UTC):%Y-%m-%d}T00:00:00"


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        # float repr is the shortest round-trip form, so 100828.4848 stays 100828.4848 on the wire.
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class BambooJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, separators=(",", ":")).encode()


def message(reason: str, status_code: int = 400) -> BambooJSONResponse:
    """The observed error envelope: ``{"message": "<ReasonCode>"}``."""
    return BambooJSONResponse({"message": reason}, status_code=status_code)
