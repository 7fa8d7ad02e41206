"""Every table, as SQLAlchemy Core, on one :data:`metadata`.

Conventions: money is ``BigInteger`` minor units (``*_minor``) next to a ``currency`` column; times
are :class:`UTCDateTime`; rates and percentages are :class:`DecimalType`; ids are prefixed text
(``ord_…``) except the internal queues (jobs, health probes), which use integer keys.
List endpoints page by keyset, so each list has an index ending in ``(created_at, id)``.

The schema is created by the Alembic migrations in ``db/migrations``; ``metadata`` is the model the
code uses and a test checks the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from steller_server.db.expressions import utc_day
from steller_server.db.types import DecimalType, UTCDateTime

__all__ = [
    "admin_sessions",
    "admin_users",
    "alerts",
    "api_keys",
    "audit_log",
    "catalog_sync_runs",
    "events",
    "fx_rates",
    "health_probes",
    "idempotency_keys",
    "incidents",
    "jobs",
    "ledger_entries",
    "metadata",
    "order_cards",
    "order_usage_daily",
    "orders",
    "outbox",
    "partner_products",
    "partners",
    "products",
    "reconciliation_runs",
    "request_log_hourly",
    "request_logs",
    "wallets",
    "webhook_attempts",
    "webhook_endpoints",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Integer autoincrement key on both databases (SQLite only autoincrements INTEGER PRIMARY KEY).
SerialKey = BigInteger().with_variant(Integer(), "sqlite")


def _id(length: int = 40) -> Column[str]:
    return Column("id", String(length), primary_key=True)


def _created() -> Column[object]:
    return Column("created_at", UTCDateTime(), nullable=False)


def _updated() -> Column[object]:
    return Column("updated_at", UTCDateTime(), nullable=False)


# -- partners, wallets, ledger ------------------------------------------------------------------

partners = Table(
    "partners",
    metadata,
    _id(),
    Column("name", String(120), nullable=False),
    Column("email", String(254), nullable=False),
    Column("company", String(120)),
    Column("status", String(16), nullable=False),
    Column("environment", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("api_version", String(10), nullable=False),
    Column("low_balance_threshold_minor", BigInteger, nullable=False),
    Column("low_balance_notified", Boolean, nullable=False),
    Column("notifications", JSON, nullable=False),
    Column("rate_limit_catalog", Integer),
    Column("rate_limit_orders", Integer),
    Column("rate_limit_default", Integer),
    _created(),
    _updated(),
    CheckConstraint("status IN ('active', 'suspended')", name="status"),
    CheckConstraint("environment IN ('sandbox', 'live')", name="environment"),
    CheckConstraint("low_balance_threshold_minor >= 0", name="threshold"),
)
Index("uq_partners_email_lower", func.lower(partners.c.email), unique=True)
Index("ix_partners_created", partners.c.created_at, partners.c.id)

wallets = Table(
    "wallets",
    metadata,
    _id(),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    # Incremented with every balance change; the ledger row copies it (wallet_seq), so a wallet's
    # entries have a strict order even when two share a timestamp.
    Column("version", BigInteger, nullable=False),
    _created(),
    _updated(),
    CheckConstraint("balance_minor >= 0", name="balance_non_negative"),
)

LEDGER_TYPES = ("credit", "debit", "refund", "adjustment")

ledger_entries = Table(
    "ledger_entries",
    metadata,
    _id(),
    Column("wallet_id", String(40), ForeignKey("wallets.id"), nullable=False),
    Column("wallet_seq", BigInteger, nullable=False),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False),
    Column("type", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_before_minor", BigInteger, nullable=False),
    Column("balance_after_minor", BigInteger, nullable=False),
    Column("description", String(500), nullable=False),
    Column("order_id", String(40), ForeignKey("orders.id")),
    Column("actor", String(80), nullable=False),
    # Deterministic key (e.g. "refund:{order_id}:failed"): a second posting of the same fact fails.
    Column("entry_key", String(200), unique=True),
    Column("request_id", String(80)),
    _created(),
    UniqueConstraint("wallet_id", "wallet_seq"),
    CheckConstraint("type IN ('credit', 'debit', 'refund', 'adjustment')", name="type"),
    CheckConstraint(
        "balance_after_minor = balance_before_minor + amount_minor", name="balance_arithmetic"
    ),
    CheckConstraint("balance_after_minor >= 0", name="balance_after_non_negative"),
    CheckConstraint(
        "(type = 'credit' AND amount_minor > 0) OR (type = 'debit' AND amount_minor < 0)"
        " OR (type = 'refund' AND amount_minor > 0) OR (type = 'adjustment' AND amount_minor <> 0)",
        name="amount_sign",
    ),
)
Index(
    "ix_ledger_wallet_created",
    ledger_entries.c.wallet_id,
    ledger_entries.c.created_at,
    ledger_entries.c.id,
)
Index(
    "ix_ledger_partner_created",
    ledger_entries.c.partner_id,
    ledger_entries.c.created_at,
    ledger_entries.c.id,
)
Index("ix_ledger_order", ledger_entries.c.order_id)

# -- keys and admins ----------------------------------------------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("role", String(16), nullable=False),
    Column("environment", String(16), nullable=False),
    Column("ip_allowlist", JSON, nullable=False),
    _created(),
    Column("last_used_at", UTCDateTime()),
    Column("expires_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Column("rotated_from_id", String(40)),
    CheckConstraint("role IN ('developer', 'ordering', 'finance')", name="role"),
)
Index("ix_api_keys_partner_created", api_keys.c.partner_id, api_keys.c.created_at, api_keys.c.id)

admin_users = Table(
    "admin_users",
    metadata,
    _id(),
    Column("email", String(254), nullable=False),
    Column("name", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False),
    _created(),
    _updated(),
    Column("last_login_at", UTCDateTime()),
    CheckConstraint("role IN ('admin', 'support', 'finance')", name="role"),
)
Index("uq_admin_users_email_lower", func.lower(admin_users.c.email), unique=True)
Index("ix_admin_users_created", admin_users.c.created_at, admin_users.c.id)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("admin_users.id"), nullable=False),
    _created(),
    Column("expires_at", UTCDateTime(), nullable=False),
)
Index("ix_admin_sessions_user", admin_sessions.c.user_id)
Index("ix_admin_sessions_expires", admin_sessions.c.expires_at)

# -- catalog ------------------------------------------------------------------------------------

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("vendor_product_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("brand_name", String(200), nullable=False),
    Column("country_code", String(2), nullable=False),
    Column("categories", JSON, nullable=False),
    Column("face_currency", String(3), nullable=False),
    Column("denomination_type", String(8), nullable=False),
    Column("min_face_minor", BigInteger, nullable=False),
    Column("max_face_minor", BigInteger, nullable=False),
    # What we pay Bamboo for the min / max face value, in cost_currency minor units.
    Column("cost_min_minor", BigInteger, nullable=False),
    Column("cost_max_minor", BigInteger, nullable=False),
    Column("cost_currency", String(3), nullable=False),
    Column("stock", Integer),
    Column("available", Boolean, nullable=False),
    Column("redemption_instructions", Text),
    Column("terms", Text),
    Column("logo_url", Text),
    _created(),
    _updated(),
    CheckConstraint("denomination_type IN ('fixed', 'range')", name="denomination_type"),
    CheckConstraint("min_face_minor > 0 AND max_face_minor >= min_face_minor", name="face_range"),
    CheckConstraint("cost_min_minor >= 0 AND cost_max_minor >= 0", name="cost"),
)
Index("ix_products_vendor_product", products.c.vendor_product_id)
Index("ix_products_face_currency", products.c.face_currency, products.c.sku)

fx_rates = Table(
    "fx_rates",
    metadata,
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    Column("rate", DecimalType(24, 12), nullable=False),
    Column("fetched_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("base", "quote"),
)

partner_products = Table(
    "partner_products",
    metadata,
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False),
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    # Negative = markup: -5 makes a 50.00 card cost 52.50.
    Column("discount_percent", DecimalType(7, 4), nullable=False),
    Column("approved_by", String(80), nullable=False),
    Column("approved_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("partner_id", "sku"),
)

# -- orders -------------------------------------------------------------------------------------

ORDER_STATUSES = ("processing", "completed", "partially_completed", "failed", "cancelled")

orders = Table(
    "orders",
    metadata,
    _id(),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False),
    Column("wallet_id", String(40), ForeignKey("wallets.id"), nullable=False),
    Column("reference_id", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("brand_name", String(200), nullable=False),
    Column("face_value_minor", BigInteger, nullable=False),
    Column("face_currency", String(3), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("quantity_fulfilled", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("discount_percent", DecimalType(7, 4), nullable=False),
    Column("exchange_rate", DecimalType(24, 12), nullable=False),
    Column("status", String(24), nullable=False),
    Column("failure_reason", String(500)),
    Column("vendor_request_id", String(36), nullable=False, unique=True),
    Column("vendor_order_id", String(64)),
    Column("vendor_status", String(32)),
    Column("vendor_submitted_at", UTCDateTime()),
    Column("request_id", String(80)),
    _created(),
    _updated(),
    Column("completed_at", UTCDateTime()),
    UniqueConstraint("partner_id", "reference_id"),
    CheckConstraint(
        "status IN ('processing', 'completed', 'partially_completed', 'failed', 'cancelled')",
        name="status",
    ),
    CheckConstraint("quantity BETWEEN 1 AND 100", name="quantity"),
    CheckConstraint("quantity_fulfilled BETWEEN 0 AND quantity", name="quantity_fulfilled"),
    CheckConstraint("total_minor = unit_price_minor * quantity", name="total"),
    CheckConstraint("refunded_minor >= 0 AND refunded_minor <= total_minor", name="refunded"),
)
Index("ix_orders_partner_created", orders.c.partner_id, orders.c.created_at, orders.c.id)
Index("ix_orders_created", orders.c.created_at, orders.c.id)
Index("ix_orders_status_created", orders.c.status, orders.c.created_at)
# Covers the usage aggregate (GET /api/partner/usage), UTC day included: an index-only scan per
# window that reads the day from the index (0002; db/expressions.py).
Index(
    "ix_orders_partner_usage",
    orders.c.partner_id,
    orders.c.created_at,
    utc_day(orders.c.created_at),
    orders.c.status,
    orders.c.sku,
    orders.c.total_minor,
    orders.c.refunded_minor,
)

# Per partner, UTC day of creation, SKU and current status: how many orders, their total and what
# was refunded of them. Kept in the transaction of every order change (domain.usage_rollup) so the
# usage report reads a few thousand rows instead of aggregating every order (0004).
order_usage_daily = Table(
    "order_usage_daily",
    metadata,
    Column("partner_id", String(40), nullable=False),
    Column("day", Date, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("order_count", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("partner_id", "day", "sku", "status"),
)

order_cards = Table(
    "order_cards",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("order_id", String(40), ForeignKey("orders.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("serial_encrypted", Text, nullable=False),
    Column("code_encrypted", Text, nullable=False),
    Column("pin_encrypted", Text),
    Column("expires_at", UTCDateTime()),
    _created(),
    UniqueConstraint("order_id", "position"),
)

# -- jobs, events, webhooks ---------------------------------------------------------------------

jobs = Table(
    "jobs",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("locked_by", String(120)),
    Column("locked_until", UTCDateTime()),
    Column("last_error", Text),
    Column("dedupe_key", String(200), unique=True),
    Column("request_id", String(80)),
    _created(),
    _updated(),
    CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
)
Index("ix_jobs_claim", jobs.c.status, jobs.c.run_at, jobs.c.id)
Index("ix_jobs_lease", jobs.c.status, jobs.c.locked_until)

events = Table(
    "events",
    metadata,
    _id(),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("order_id", String(40)),
    Column("delivery_status", String(16), nullable=False),
    Column("attempt_count", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    _created(),
    _updated(),
    CheckConstraint(
        "delivery_status IN ('pending', 'delivered', 'failed', 'not_subscribed')",
        name="delivery_status",
    ),
)
Index("ix_events_partner_created", events.c.partner_id, events.c.created_at, events.c.id)
Index("ix_events_order", events.c.order_id)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False, unique=True),
    Column("url", String(2048), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("previous_secret_encrypted", Text),
    Column("previous_secret_expires_at", UTCDateTime()),
    Column("status", String(16), nullable=False),
    Column("disabled_reason", String(500)),
    Column("failure_since", UTCDateTime()),
    _created(),
    _updated(),
    CheckConstraint("status IN ('active', 'disabled')", name="status"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    _id(),
    Column("event_id", String(40), ForeignKey("events.id"), nullable=False),
    Column("partner_id", String(40), ForeignKey("partners.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("attempted_at", UTCDateTime(), nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(500)),
    Column("success", Boolean, nullable=False),
)
Index("ix_webhook_attempts_event", webhook_attempts.c.event_id, webhook_attempts.c.attempted_at)

# -- idempotency, audit, logs -------------------------------------------------------------------

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(200), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("locked_until", UTCDateTime()),
    Column("response_status", Integer),
    Column("response_headers", JSON),
    Column("response_body", LargeBinary),
    _created(),
    Column("expires_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("scope", "key"),
    CheckConstraint("state IN ('in_progress', 'completed')", name="state"),
)
Index("ix_idempotency_keys_expires", idempotency_keys.c.expires_at)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("sequence", BigInteger, nullable=False, unique=True),
    Column("actor", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(40), nullable=False),
    Column("target_id", String(80), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("reason", String(500)),
    Column("request_id", String(80)),
    _created(),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_created", audit_log.c.created_at, audit_log.c.id)
Index("ix_audit_log_target", audit_log.c.target_type, audit_log.c.target_id)

request_logs = Table(
    "request_logs",
    metadata,
    _id(),
    Column("request_id", String(80), nullable=False),
    Column("partner_id", String(40)),
    Column("key_id", String(40)),
    Column("admin_user_id", String(40)),
    Column("method", String(8), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("route", String(200)),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("client_ip", String(64)),
    _created(),
)
Index(
    "ix_request_logs_partner_created",
    request_logs.c.partner_id,
    request_logs.c.created_at,
    request_logs.c.id,
)
Index("ix_request_logs_created", request_logs.c.created_at, request_logs.c.id)
Index("ix_request_logs_request_id", request_logs.c.request_id)

# Calls and error responses per partner and closed UTC hour, rolled up from request_logs (0002);
# partner_id '*' marks an hour as rolled up for every partner (domain.request_log_queries).
request_log_hourly = Table(
    "request_log_hourly",
    metadata,
    Column("partner_id", String(40), nullable=False),
    Column("hour", UTCDateTime(), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("partner_id", "hour"),
)

# -- operations ---------------------------------------------------------------------------------

catalog_sync_runs = Table(
    "catalog_sync_runs",
    metadata,
    _id(),
    Column("status", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("brands", Integer, nullable=False),
    Column("products", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("marked_unavailable", Integer, nullable=False),
    Column("exchange_rates", Integer, nullable=False),
    Column("error", Text),
)
Index("ix_catalog_sync_runs_started", catalog_sync_runs.c.started_at, catalog_sync_runs.c.id)

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    _id(),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("wallets_checked", Integer, nullable=False),
    Column("orders_checked", Integer, nullable=False),
    Column("findings", JSON, nullable=False),
    Column("error", Text),
)
Index("ix_reconciliation_runs_started", reconciliation_runs.c.started_at, reconciliation_runs.c.id)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", String(1000), nullable=False),
    Column("details", JSON, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime()),
    Column("acknowledged_by", String(80)),
    Column("ack_note", String(1000)),
    Column("resolved_at", UTCDateTime()),
    CheckConstraint("severity IN ('warning', 'critical')", name="severity"),
    CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status"),
)
Index("ix_alerts_last_seen", alerts.c.last_seen_at, alerts.c.id)

incidents = Table(
    "incidents",
    metadata,
    _id(),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("impact", String(16), nullable=False),
    Column("components", JSON, nullable=False),
    Column("updates", JSON, nullable=False),
    _created(),
    _updated(),
    Column("resolved_at", UTCDateTime()),
)
Index("ix_incidents_created", incidents.c.created_at, incidents.c.id)

health_probes = Table(
    "health_probes",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("component", String(32), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Integer),
    Column("detail", String(500)),
    Column("checked_at", UTCDateTime(), nullable=False),
)
Index("ix_health_probes_component", health_probes.c.component, health_probes.c.checked_at)

# -- notifications ------------------------------------------------------------------------------

# Emails captured instead of sent (sandbox mode without SMTP): GET /sandbox/outbox (0003).
outbox = Table(
    "outbox",
    metadata,
    _id(),
    Column("partner_id", String(40)),
    Column("kind", String(40), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("job_id", BigInteger),
    Column("request_id", String(80)),
    _created(),
)
Index("ix_outbox_created", outbox.c.created_at, outbox.c.id)
