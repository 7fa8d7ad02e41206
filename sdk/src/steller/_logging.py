"""The ``steller`` logger, and ``STELLER_LOG`` for turning it on without touching code.

``STELLER_LOG=debug`` (or ``info``) makes the first client created in the process attach a
stderr handler to the ``steller`` logger. Applications that configure :mod:`logging` themselves
can ignore this and set the ``steller`` logger's level like any other.

Credentials never reach the log: headers are logged only through :func:`redact_headers`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["SENSITIVE_HEADERS", "logger", "redact_headers", "setup_logging"]

logger = logging.getLogger("steller")

SENSITIVE_HEADERS = frozenset({"x-api-key", "authorization", "cookie", "proxy-authorization"})
_LEVELS = MappingProxyType({"debug": logging.DEBUG, "info": logging.INFO})
_HANDLER_MARK = "_steller_env_handler"


def setup_logging() -> None:
    """Attach a stderr handler to the ``steller`` logger if ``STELLER_LOG`` asks for one.

    Idempotent: the handler carries a mark, so it is added once however many clients exist.
    """
    level = _LEVELS.get(os.environ.get("STELLER_LOG", "").strip().lower())
    if level is None:
        return
    if any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` safe to log: credentials replaced by ``<redacted>``."""
    return {k: ("<redacted>" if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}
