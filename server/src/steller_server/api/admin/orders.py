"""orders endpoints (being written)."""

from __future__ import annotations

from steller_server.api.routing import Endpoints

endpoints = Endpoints()
