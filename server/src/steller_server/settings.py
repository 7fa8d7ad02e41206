"""Server configuration, read from ``STELLER_*`` environment variables.

Nothing here runs at import time: build a :class:`Settings` with :meth:`Settings.from_env` (or the
constructor, in tests) and pass it down. ``validate()`` is called by the CLI before serving.

Money settings are decimal strings in the environment (``STELLER_ORDER_FEE="0.10"``), parsed into
:class:`~decimal.Decimal`; never floats.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Literal

__all__ = ["DEV_SECRET_KEY", "ConfigError", "LogFormat", "Mode", "Settings", "SmtpTls"]

log = logging.getLogger(__name__)

Mode = Literal["sandbox", "live"]
LogFormat = Literal["json", "human"]
SmtpTls = Literal["starttls", "ssl", "none"]

#: The fixed key sandbox mode uses when STELLER_SECRET_KEY is unset. Public, so never for live data.
DEV_SECRET_KEY = "steller-sandbox-dev-secret-key-do-not-use-in-live-mode"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(Exception):
    """The configuration cannot be used; the message says which variable and why."""


def normalise_database_url(url: str) -> str:
    """Map the URLs operators type to the async drivers the server uses.

    ``postgresql://`` / ``postgres://`` / ``postgresql+psycopg2://`` → ``postgresql+psycopg://``;
    ``sqlite:///path`` → ``sqlite+aiosqlite:///path``. Anything else is returned unchanged.
    """
    url = url.strip()
    for prefix in (
        "postgresql+psycopg2://",
        "postgresql+asyncpg://",
        "postgresql://",
        "postgres://",
    ):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    for prefix in ("sqlite+pysqlite://", "sqlite://"):
        if url.startswith(prefix):
            return "sqlite+aiosqlite://" + url[len(prefix) :]
    return url


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every knob of the server. Frozen; use :meth:`replace` to derive a variant (tests do)."""

    database_url: str = "sqlite+aiosqlite:///./steller.sqlite3"
    redis_url: str | None = None
    mode: Mode = "sandbox"
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    #: Per-order fee in USD, the floor the profit guard adds to vendor cost (converted by FX).
    order_fee: Decimal = Decimal("0.10")
    order_fee_currency: str = "USD"
    idempotency_retention_hours: int = 24
    max_body_bytes: int = 64 * 1024
    admin_token_ttl_hours: int = 12
    request_log_retention_days: int = 30
    #: Default grace (hours) for webhook secret rotation when the request does not say.
    webhook_secret_grace_hours: int = 24
    #: Webhook delivery (docs/webhooks.md): the deadline of one whole attempt in seconds; the
    #: attempts an event gets (the first 10 follow the documented schedule, later ones wait its
    #: last delay, 24 h); the days of failing without a success after which an endpoint is
    #: disabled.
    webhook_timeout_seconds: Decimal = Decimal("10")
    webhook_max_attempts: int = 10
    webhook_disable_after_days: int = 5
    #: Low-balance threshold for new partners, in the partner's currency (major units).
    low_balance_threshold: Decimal = Decimal("100.00")
    #: Money credited to a new sandbox partner at signup (major units of its currency).
    sandbox_trial_credit: Decimal = Decimal("1000.00")
    #: discountPercent applied when signup approves the sandbox catalog (0 = face value).
    sandbox_default_discount: Decimal = Decimal("0")

    admin_email: str | None = None
    admin_password: str | None = None

    bamboo_base_url: str | None = None
    bamboo_client_id: str | None = None
    bamboo_client_secret: str | None = None
    bamboo_account_id: int | None = None
    #: Secret Bamboo sends in notification callbacks (``secretKey``).
    bamboo_notification_secret: str | None = None

    # -- operations: logs, metrics, notifications (docs/operations.md) ------------------------
    #: ``json`` or ``human``; None = human in sandbox mode, JSON in live mode.
    log_format: LogFormat | None = None
    log_level: str = "INFO"
    #: Observe requests/jobs/vendor calls into Prometheus metrics (``GET /metrics``).
    metrics_enabled: bool = True
    #: Client networks (CIDRs) that may scrape ``/metrics`` without an admin token.
    metrics_allow: tuple[str, ...] = ()
    smtp_host: str | None = None
    smtp_port: int | None = None
    #: ``starttls`` (default), ``ssl`` (implicit TLS) or ``none``.
    smtp_tls: SmtpTls = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Steller <no-reply@steller.invalid>"
    #: Admin alert recipients; the admin alert webhook (signed like partner webhooks).
    alert_emails: tuple[str, ...] = ()
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None
    #: An open, unacknowledged alert is notified again every this many hours (0 = never).
    alert_repeat_hours: int = 24
    #: ``job_backlog`` alert when a due job has waited longer than this (minutes).
    alert_job_age_minutes: int = 15
    #: ``vendor_error_rate`` alert when this fraction of recent vendor calls failed.
    alert_vendor_error_rate: Decimal = Decimal("0.25")

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); raises :class:`ConfigError`."""
        env = os.environ if environ is None else environ
        default = cls()

        def text(name: str) -> str | None:
            value = env.get(name)
            if value is None or value.strip() == "":
                return None
            return value.strip()

        def integer(name: str, fallback: int, minimum: int = 0) -> int:
            raw = text(name)
            if raw is None:
                return fallback
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
            if value < minimum:
                raise ConfigError(f"{name} must be >= {minimum}, got {value}")
            return value

        def decimal(name: str, fallback: Decimal) -> Decimal:
            raw = text(name)
            if raw is None:
                return fallback
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise ConfigError(f"{name} must be a decimal number, got {raw!r}") from None
            if not value.is_finite() or value < 0:
                raise ConfigError(f"{name} must be a non-negative decimal, got {raw!r}")
            return value

        mode = (text("STELLER_MODE") or "sandbox").lower()
        if mode not in ("sandbox", "live"):
            raise ConfigError(f"STELLER_MODE must be 'sandbox' or 'live', got {mode!r}")

        account = text("STELLER_BAMBOO_ACCOUNT_ID")
        try:
            account_id = int(account) if account is not None else None
        except ValueError:
            raise ConfigError(
                f"STELLER_BAMBOO_ACCOUNT_ID must be an integer, got {account!r}"
            ) from None

        log_format = (text("STELLER_LOG_FORMAT") or "").lower() or None
        if log_format not in (None, "json", "human"):
            raise ConfigError(f"STELLER_LOG_FORMAT must be 'json' or 'human', got {log_format!r}")
        smtp_tls = (text("STELLER_SMTP_TLS") or "starttls").lower()
        if smtp_tls not in ("starttls", "ssl", "none"):
            raise ConfigError(
                f"STELLER_SMTP_TLS must be 'starttls', 'ssl' or 'none', got {smtp_tls!r}"
            )
        metrics_flag = (text("STELLER_METRICS_ENABLED") or "true").lower()
        if metrics_flag not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ConfigError(
                f"STELLER_METRICS_ENABLED must be true or false, got {metrics_flag!r}"
            )

        def listed(name: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in (text(name) or "").split(",") if part.strip())

        return cls(
            log_format="json" if log_format == "json" else "human" if log_format else None,
            log_level=(text("STELLER_LOG_LEVEL") or default.log_level).upper(),
            metrics_enabled=metrics_flag in ("true", "1", "yes", "on"),
            metrics_allow=listed("STELLER_METRICS_ALLOW"),
            smtp_host=text("STELLER_SMTP_HOST"),
            smtp_port=integer("STELLER_SMTP_PORT", 0, 0) or None,
            smtp_tls="ssl" if smtp_tls == "ssl" else "none" if smtp_tls == "none" else "starttls",
            smtp_username=text("STELLER_SMTP_USERNAME"),
            smtp_password=text("STELLER_SMTP_PASSWORD"),
            smtp_from=text("STELLER_SMTP_FROM") or default.smtp_from,
            alert_emails=listed("STELLER_ALERT_EMAILS"),
            alert_webhook_url=text("STELLER_ALERT_WEBHOOK_URL"),
            alert_webhook_secret=text("STELLER_ALERT_WEBHOOK_SECRET"),
            alert_repeat_hours=integer("STELLER_ALERT_REPEAT_HOURS", default.alert_repeat_hours),
            alert_job_age_minutes=integer(
                "STELLER_ALERT_JOB_AGE_MINUTES", default.alert_job_age_minutes, 1
            ),
            alert_vendor_error_rate=decimal(
                "STELLER_ALERT_VENDOR_ERROR_RATE", default.alert_vendor_error_rate
            ),
            database_url=normalise_database_url(
                text("STELLER_DATABASE_URL") or default.database_url
            ),
            redis_url=text("STELLER_REDIS_URL"),
            mode="live" if mode == "live" else "sandbox",
            secret_key=text("STELLER_SECRET_KEY"),
            host=text("STELLER_HOST") or default.host,
            port=integer("STELLER_PORT", default.port, minimum=1),
            order_fee=decimal("STELLER_ORDER_FEE", default.order_fee),
            idempotency_retention_hours=integer(
                "STELLER_IDEMPOTENCY_RETENTION_HOURS", default.idempotency_retention_hours, 24
            ),
            max_body_bytes=integer("STELLER_MAX_BODY_BYTES", default.max_body_bytes, 1024),
            admin_token_ttl_hours=integer(
                "STELLER_ADMIN_TOKEN_TTL_HOURS", default.admin_token_ttl_hours, 1
            ),
            request_log_retention_days=integer(
                "STELLER_REQUEST_LOG_RETENTION_DAYS", default.request_log_retention_days, 1
            ),
            webhook_secret_grace_hours=integer(
                "STELLER_WEBHOOK_SECRET_GRACE_HOURS", default.webhook_secret_grace_hours
            ),
            webhook_timeout_seconds=decimal(
                "STELLER_WEBHOOK_TIMEOUT_SECONDS", default.webhook_timeout_seconds
            ),
            webhook_max_attempts=integer(
                "STELLER_WEBHOOK_MAX_ATTEMPTS", default.webhook_max_attempts, 1
            ),
            webhook_disable_after_days=integer(
                "STELLER_WEBHOOK_DISABLE_AFTER_DAYS", default.webhook_disable_after_days, 1
            ),
            low_balance_threshold=decimal(
                "STELLER_LOW_BALANCE_THRESHOLD", default.low_balance_threshold
            ),
            sandbox_trial_credit=decimal(
                "STELLER_SANDBOX_TRIAL_CREDIT", default.sandbox_trial_credit
            ),
            admin_email=text("STELLER_ADMIN_EMAIL"),
            admin_password=text("STELLER_ADMIN_PASSWORD"),
            bamboo_base_url=text("STELLER_BAMBOO_BASE_URL"),
            bamboo_client_id=text("STELLER_BAMBOO_CLIENT_ID"),
            bamboo_client_secret=text("STELLER_BAMBOO_CLIENT_SECRET"),
            bamboo_account_id=account_id,
            bamboo_notification_secret=text("STELLER_BAMBOO_NOTIFICATION_SECRET"),
        )

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied (``database_url`` is normalised)."""
        if isinstance(changes.get("database_url"), str):
            changes["database_url"] = normalise_database_url(str(changes["database_url"]))
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- checks -------------------------------------------------------------------------------

    def validate(self) -> Settings:
        """Refuse unsafe configurations; returns ``self`` so calls chain.

        Live mode needs ``STELLER_SECRET_KEY`` (>= 32 characters); sandbox mode falls back to a
        fixed, public development key and logs a warning.
        """
        if self.mode == "live":
            if not self.secret_key:
                raise ConfigError("refusing to start in live mode without STELLER_SECRET_KEY")
            if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise ConfigError(
                    f"STELLER_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
                )
            if self.secret_key == DEV_SECRET_KEY:
                raise ConfigError("refusing to use the sandbox development key in live mode")
        elif not self.secret_key:
            log.warning(
                "STELLER_SECRET_KEY is not set: using the fixed sandbox development key. "
                "Never use this database for live data."
            )
        self._validate_operations()
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ConfigError(
                "STELLER_DATABASE_URL must be a sqlite:/// or postgresql:// URL, "
                f"got {self.database_url.split('://')[0]}://…"
            )
        return self

    def _validate_operations(self) -> None:
        import ipaddress  # noqa: PLC0415

        for network in self.metrics_allow:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(
                    f"STELLER_METRICS_ALLOW: {network!r} is not an address or CIDR network"
                ) from None
        if self.alert_webhook_url and not self.alert_webhook_secret:
            raise ConfigError("STELLER_ALERT_WEBHOOK_URL needs STELLER_ALERT_WEBHOOK_SECRET")
        if self.alert_webhook_secret:
            from steller.webhooks import sign  # noqa: PLC0415

            try:
                sign(b"", self.alert_webhook_secret, msg_id="check", timestamp=0)
            except ValueError as exc:
                raise ConfigError(f"STELLER_ALERT_WEBHOOK_SECRET: {exc}") from None
        if self.alert_vendor_error_rate > 1:
            raise ConfigError("STELLER_ALERT_VENDOR_ERROR_RATE is a fraction between 0 and 1")
        if not 0 < self.webhook_timeout_seconds <= 60:
            raise ConfigError("STELLER_WEBHOOK_TIMEOUT_SECONDS must be above 0 and at most 60")
        if self.smtp_username and not self.smtp_password:
            raise ConfigError("STELLER_SMTP_USERNAME needs STELLER_SMTP_PASSWORD")

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def effective_smtp_port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "none": 25}.get(self.smtp_tls, 587)

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return "human" if self.is_sandbox else "json"

    @property
    def effective_secret_key(self) -> str:
        """The key used for hashing and encryption (the dev key in sandbox when none is set)."""
        if self.secret_key:
            return self.secret_key
        if self.mode == "live":
            raise ConfigError("refusing to start in live mode without STELLER_SECRET_KEY")
        return DEV_SECRET_KEY

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_sandbox(self) -> bool:
        return self.mode == "sandbox"
