"""Structured logs: one line per request, per job step and per vendor call, never a secret.

    from steller_server.observability import logging as obs_logging
    obs_logging.configure(settings)          # the CLI does this once per process

* **Context.** :data:`REQUEST_ID` / :data:`PARTNER_ID` / :data:`JOB_ID` / :data:`JOB_KIND` /
  :data:`ORDER_ID` are ``contextvars``: the request middleware sets the request id for the request,
  the worker sets the job's (``jobs.request_id`` is the id of the request that caused the job), so
  every line logged while handling either — vendor calls included — carries them.
* **Format.** ``json`` (one object per line: ``time``, ``level``, ``logger``, ``message``, the
  context above and any ``extra={"steller": {...}}`` fields) or ``human`` (one readable line).
  Sandbox mode defaults to ``human``, live mode to ``json``; ``STELLER_LOG_FORMAT`` overrides.
* **Redaction.** :class:`RedactionFilter` runs on every record before it is formatted: API keys
  (``stlr_live_…``/``stlr_test_…``), webhook secrets (``whsec_…``), bearer tokens, values of
  secret-looking fields (``code``, ``pin``, ``password``, ``secret``, ``token``, ``key`` …) and
  the configured secrets themselves (``STELLER_SECRET_KEY``, SMTP/Bamboo/alert secrets) are
  replaced by ``[REDACTED]`` — in the message, its arguments and the structured fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TextIO

from steller_server.settings import Settings

__all__ = [
    "JOB_ID",
    "JOB_KIND",
    "ORDER_ID",
    "PARTNER_ID",
    "REDACTED",
    "REQUEST_ID",
    "HumanFormatter",
    "JsonFormatter",
    "RedactionFilter",
    "configure",
    "context_fields",
    "current_request_id",
    "redact",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("steller_request_id", default=None)
PARTNER_ID: ContextVar[str | None] = ContextVar("steller_partner_id", default=None)
JOB_ID: ContextVar[int | None] = ContextVar("steller_job_id", default=None)
JOB_KIND: ContextVar[str | None] = ContextVar("steller_job_kind", default=None)
ORDER_ID: ContextVar[str | None] = ContextVar("steller_order_id", default=None)

REDACTED = "[REDACTED]"

#: Field names whose values are never logged (compared case-insensitively, ``_``/``-`` ignored).
SECRET_FIELDS = frozenset(
    {
        "code",
        "pin",
        "cardcode",
        "cardpin",
        "password",
        "secret",
        "token",
        "apikey",
        "key",
        "xapikey",
        "authorization",
        "webhooksecret",
        "clientsecret",
        "secretkey",
        "rawkey",
        "smtppassword",
        "cookie",
        "serial",
        "serialnumber",
    }
)

_PATTERNS = [
    re.compile(r"stlr_(?:live|test)_[A-Za-z0-9_\-]+"),
    re.compile(r"whsec_[A-Za-z0-9+/=_\-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"),
    # "code": "…", 'pin': '…', password=…, secretKey: … in free text and reprs
    re.compile(
        r"""(?ix)
        (?<![A-Za-z0-9_])
        (["']?(?:card[_-]?|webhook[_-]?|admin[_-]?)?(?:code|pin|password|secret(?:[_-]?key)?|
        token|api[_-]?key|
        client[_-]?secret|serial(?:[_-]?number)?)["']?\s*[:=]\s*)
        (?!\[REDACTED\])(?:"[^"]*"|'[^']*'|[^\s,;&)}\]]+)
        """
    ),
]


#: Every pattern above needs one of these words; text without any is returned untouched.
_TRIGGER = re.compile(r"(?i)stlr_|whsec_|bearer|code|pin|passw|secret|token|key|serial")
#: The same words for ASCII text already lowered: a case-insensitive regex costs ~5x more per
#: search, and every string of every log line (request ids, paths) goes through this gate.
_TRIGGER_LOWER = re.compile(r"stlr_|whsec_|bearer|code|pin|passw|secret|token|key|serial")


def current_request_id() -> str | None:
    """The request id of the request (or job) being handled in this context, if any."""
    return REQUEST_ID.get()


def context_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, var in (
        ("request_id", REQUEST_ID),
        ("partner_id", PARTNER_ID),
        ("job_id", JOB_ID),
        ("job_kind", JOB_KIND),
        ("order_id", ORDER_ID),
    ):
        value = var.get()
        if value is not None:
            fields[name] = value
    return fields


@lru_cache(maxsize=4096)
def _secret_field(name: str) -> bool:
    return name.lower().replace("_", "").replace("-", "") in SECRET_FIELDS


class _Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        # The common case: one cheap scan, nothing to redact. Non-ASCII text keeps the
        # case-insensitive regex, whose Unicode case folding ``str.lower`` does not replicate.
        if value.isascii():
            if not _TRIGGER_LOWER.search(value.lower()):
                return value
        elif not _TRIGGER.search(value):
            return value
        for pattern in _PATTERNS:
            if pattern.groups:
                value = pattern.sub(lambda m: m.group(1) + REDACTED, value)
            else:
                value = pattern.sub(REDACTED, value)
        return value

    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > 6:
            return REDACTED
        kind = type(value)
        # Exact types first: ``isinstance`` against the ``Mapping`` ABC is the slow check, and
        # a log line's fields are nearly all plain str/int/float/None.
        if kind is str:
            return self.text(value)
        if value is None or kind is int or kind is float or kind is bool:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: REDACTED
                if isinstance(k, str) and _secret_field(k) and v
                else self.value(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v, depth + 1) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` with secrets, keys, tokens and card data replaced by ``[REDACTED]``."""
    return _Redactor(secrets).value(value)


class RedactionFilter(logging.Filter):
    """Rewrites every record so no secret reaches a handler (attach to handlers)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._redactor = _Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_steller_redacted", False):
            return True
        r = self._redactor
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we have, redacted
            message = str(record.msg)
        record.msg = r.text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = r.text(record.exc_text)
        record.exc_info = None  # the (redacted) text above is what gets printed
        fields = getattr(record, "steller", None)
        if isinstance(fields, Mapping):
            record.steller = r.value(fields)
        record._steller_redacted = True
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out = context_fields()
    extra = getattr(record, "steller", None)
    if isinstance(extra, Mapping):
        out.update(extra)
    return out


@lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _utc_time(created: float) -> str:
    """``2026-11-29T01:02:03.456Z``: the date part is formatted once per second, not per line."""
    second = int(created)
    micros = round((created - second) * 1e6)  # as ``datetime.fromtimestamp`` rounds
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    return f"{_utc_second(second)}.{micros // 1000:03d}Z"


# One encoder for every line: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": _utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update(_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exception"] = record.exc_text
        return _ENCODER.encode(body)


class HumanFormatter(logging.Formatter):
    """``12:00:01.123 INFO  steller.http  GET /api/orders 202 12.3ms  request_id=req_…``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items() if v is not None)
        line = f"{stamp} {record.levelname:<7} {record.name:<18} {record.getMessage()}"
        if fields:
            line += f"  {fields}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def configured_secrets(settings: Settings) -> list[str]:
    """The secret values in ``settings`` that must never appear in a log line."""
    values = [
        settings.secret_key,
        settings.admin_password,
        settings.bamboo_client_secret,
        settings.bamboo_notification_secret,
        settings.smtp_password,
        settings.alert_webhook_secret,
    ]
    return [v for v in values if v]


def build_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.effective_log_format == "json" else HumanFormatter()
    )
    handler.addFilter(RedactionFilter(configured_secrets(settings)))
    handler.set_name("steller")
    return handler


def configure(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (uvicorn's too) to one redacting handler in the configured format.

    Idempotent: a second call replaces the handler it installed before.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    handler = build_handler(settings, stream)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our request line replaces uvicorn's access log (it has the request id and route).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return handler
