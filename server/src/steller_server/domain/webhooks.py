"""Partner webhooks: the endpoint, its signing secrets, delivery bookkeeping and the events API.

- **Endpoint** (one per partner, ``webhook_endpoints``): URL, ``enabled`` (the partner's switch),
  ``event_types``, ``status`` (``active``, or ``disabled`` by Steller after
  :data:`DEFAULT_DISABLE_AFTER` of continuous failure, with ``disabled_reason``). Creating it
  returns the ``whsec_`` secret once; a PUT that enables a disabled endpoint re-activates it.
- **Secrets** are stored encrypted (AES-GCM, :class:`~steller_server.domain.crypto.Cipher`,
  purpose ``webhook-secrets``, bound to the endpoint id). :func:`rotate_secret` keeps the previous
  secret signing too until ``previous_secret_expires_at`` (default grace 24 h), so every delivery
  in the grace period carries two ``v1,`` signatures.
- **Delivery** (``jobs/delivery.py`` runs it): :func:`prepare_delivery` decides whether an event
  is still to be sent and with which secrets; :func:`record_attempt` stores each attempt (time,
  status code, latency, error), moves the event to ``delivered`` / ``pending`` (next attempt per
  :data:`RETRY_SCHEDULE`) / ``failed``, and tracks the endpoint's failure streak.
- **Events API**: :func:`list_events` (last :data:`EVENT_RETENTION`), :func:`get_event`,
  :func:`redeliver` (same event id, new job), :func:`retry_order_webhook` (admin).

The wire payload is ``{"id", "type", "timestamp", "data"}`` serialised as compact JSON
(:func:`payload_bytes`); ``timestamp`` is when the event happened, identical on every attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, insert, literal, not_, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from steller_server.db.dialect import insert_ignore
from steller_server.db.engine import Database
from steller_server.db.tables import events as events_table
from steller_server.db.tables import jobs as jobs_table
from steller_server.db.tables import orders, webhook_attempts, webhook_endpoints
from steller_server.domain import audit, events, jobs, ssrf
from steller_server.domain.clock import utcnow
from steller_server.domain.crypto import Cipher, generate_webhook_secret
from steller_server.domain.errors import InvalidState, NotFound
from steller_server.domain.ids import new_id, random_base62
from steller_server.domain.models import Event
from steller_server.domain.pagination import DEFAULT_LIMIT, Page, fetch_page
from steller_server.domain.serialize import iso

__all__ = [
    "DEFAULT_DISABLE_AFTER",
    "EVENT_RETENTION",
    "MAX_ATTEMPTS",
    "RETRY_SCHEDULE",
    "SECRET_PURPOSE",
    "TEST_MESSAGE",
    "Attempt",
    "ConfiguredEndpoint",
    "DeliveryPlan",
    "Endpoint",
    "EventView",
    "configure_endpoint",
    "endpoint_public",
    "event_public",
    "get_endpoint",
    "get_event",
    "is_prompt_redelivery",
    "list_events",
    "payload_bytes",
    "prepare_delivery",
    "push_back_deliveries",
    "record_attempt",
    "redeliver",
    "retry_order_webhook",
    "rotate_secret",
    "secret_cipher",
    "send_test_event",
]

#: Delay before attempt n (index n-1): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h,
#: 24 h, 24 h — 10 attempts over about 3 days (the contract's ``webhooks:`` section).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=24),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE)
EVENT_RETENTION = timedelta(days=30)
#: An endpoint failing without a single success for this long is disabled.
DEFAULT_DISABLE_AFTER = timedelta(days=5)
TEST_MESSAGE = "This is a test event from Steller."
SECRET_PURPOSE = "webhook-secrets"  # noqa: S105 (a key-derivation label, not a secret)
ALL_EVENT_TYPES: tuple[str, ...] = events.EVENT_TYPES


def secret_cipher(secret_key: str) -> Cipher:
    """The cipher that seals endpoint secrets (its own derived key)."""
    return Cipher(secret_key, SECRET_PURPOSE)


def _secret_ad(endpoint_id: str) -> str:
    return f"webhook_endpoint:{endpoint_id}"


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    id: str
    partner_id: str
    url: str
    enabled: bool
    event_types: list[str]
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None
    status: str
    disabled_reason: str | None
    failure_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Endpoint:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(row).items() if k in names})

    def rotation_ends_at(self, now: datetime) -> datetime | None:
        """When the previous secret stops signing, while a rotation is in progress."""
        expires = self.previous_secret_expires_at
        if self.previous_secret_encrypted is None or expires is None or expires <= now:
            return None
        return expires

    def secrets(self, cipher: Cipher, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a delivery at ``now``: current first, then the previous one."""
        current = cipher.decrypt(self.secret_encrypted, associated_data=_secret_ad(self.id))
        if self.rotation_ends_at(now) is None or self.previous_secret_encrypted is None:
            return (current,)
        previous = cipher.decrypt(
            self.previous_secret_encrypted, associated_data=_secret_ad(self.id)
        )
        return (current, previous)

    @property
    def accepts_deliveries(self) -> bool:
        return self.enabled and self.status == "active"


@dataclass(frozen=True, kw_only=True)
class Attempt:
    id: str
    event_id: str
    url: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    success: bool

    @classmethod
    def from_row(cls, row: Any) -> Attempt:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(row).items() if k in names})


@dataclass(frozen=True, kw_only=True)
class EventView:
    """An event with its delivery attempts, oldest attempt first (the ``Event`` schema)."""

    event: Event
    attempts: list[Attempt]


@dataclass(frozen=True, kw_only=True)
class ConfiguredEndpoint:
    endpoint: Endpoint
    created: bool
    #: The new secret, only when the endpoint was just created.
    secret: str | None


@dataclass(frozen=True, kw_only=True)
class DeliveryPlan:
    """What one delivery attempt sends: the event, where, the body and the signing secrets."""

    event: Event
    endpoint: Endpoint
    secrets: tuple[str, ...]
    body: bytes


# -- renderings ---------------------------------------------------------------------------------


def endpoint_public(
    endpoint: Endpoint | None, *, now: datetime, secret: str | None = None
) -> dict[str, Any]:
    """The ``WebhookEndpoint`` schema (``not_configured`` when there is none)."""
    if endpoint is None:
        return {
            "url": None,
            "enabled": False,
            "eventTypes": list(ALL_EVENT_TYPES),
            "status": "not_configured",
            "disabledReason": None,
            "secretRotationEndsAt": None,
            "createdAt": None,
            "updatedAt": None,
        }
    body: dict[str, Any] = {
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "eventTypes": [t for t in ALL_EVENT_TYPES if t in endpoint.event_types],
        "status": endpoint.status,
        "disabledReason": endpoint.disabled_reason,
        "secretRotationEndsAt": iso(endpoint.rotation_ends_at(now)),
        "createdAt": iso(endpoint.created_at),
        "updatedAt": iso(endpoint.updated_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def attempt_public(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "attemptedAt": iso(attempt.attempted_at),
        "statusCode": attempt.status_code,
        "latencyMs": attempt.latency_ms,
        "error": attempt.error,
        "success": attempt.success,
    }


def event_public(view: EventView) -> dict[str, Any]:
    """The ``Event`` schema."""
    event = view.event
    return {
        "id": event.id,
        "type": event.type,
        "createdAt": iso(event.created_at),
        "data": event.payload,
        "deliveryStatus": event.delivery_status,
        "attempts": [attempt_public(a) for a in view.attempts],
        "nextAttemptAt": iso(event.next_attempt_at) if event.delivery_status == "pending" else None,
    }


def payload_bytes(event: Event) -> bytes:
    """The exact delivery body: compact JSON ``{id, type, timestamp, data}``, stable per event."""
    body = {
        "id": event.id,
        "type": event.type,
        "timestamp": iso(event.created_at),
        "data": event.payload,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _audit_view(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "eventTypes": list(endpoint.event_types),
        "status": endpoint.status,
    }


# -- configuration ------------------------------------------------------------------------------


async def get_endpoint(conn: AsyncConnection, *, partner_id: str) -> Endpoint | None:
    row = (
        (
            await conn.execute(
                select(webhook_endpoints).where(webhook_endpoints.c.partner_id == partner_id)
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else Endpoint.from_row(row)


async def configure_endpoint(
    db: Database,
    *,
    partner_id: str,
    url: str,
    mode: str,
    cipher: Cipher,
    actor: str,
    enabled: bool = True,
    event_types: Sequence[str] | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> ConfiguredEndpoint:
    """Create or replace the partner's endpoint (a full replacement: omitted fields reset to their
    defaults). Live mode checks the URL against :mod:`~steller_server.domain.ssrf` first
    (:class:`~steller_server.domain.ssrf.UrlNotAllowed`). Enabling a disabled endpoint
    re-activates it and clears ``disabled_reason``; a new URL clears the failure streak."""
    now = now or utcnow()
    target = await ssrf.check_url(url, mode=mode)  # DNS before the write lock is taken
    types = list(event_types) if event_types else list(ALL_EVENT_TYPES)
    unknown = [t for t in types if t not in ALL_EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event types {unknown}")
    async with db.write() as conn:
        endpoint_id = new_id("whe")
        secret = generate_webhook_secret()
        inserted = (
            await conn.execute(
                insert_ignore(conn, webhook_endpoints, ["partner_id"])
                .values(
                    id=endpoint_id,
                    partner_id=partner_id,
                    url=target.url,
                    enabled=enabled,
                    event_types=types,
                    secret_encrypted=cipher.encrypt(
                        secret, associated_data=_secret_ad(endpoint_id)
                    ),
                    previous_secret_encrypted=None,
                    previous_secret_expires_at=None,
                    status="active",
                    disabled_reason=None,
                    failure_since=None,
                    created_at=now,
                    updated_at=now,
                )
                .returning(webhook_endpoints.c.id)
            )
        ).first()
        if inserted is not None:
            created = await get_endpoint(conn, partner_id=partner_id)
            assert created is not None
            await audit.record(
                conn,
                actor=actor,
                action="webhook_endpoint.create",
                target_type="webhook_endpoint",
                target_id=created.id,
                after=_audit_view(created),
                request_id=request_id,
                now=now,
            )
            return ConfiguredEndpoint(endpoint=created, created=True, secret=secret)
        before = await get_endpoint(conn, partner_id=partner_id)
        assert before is not None  # the conflicting row exists (committed)
        values: dict[str, Any] = {
            "url": target.url,
            "enabled": enabled,
            "event_types": types,
            "updated_at": now,
        }
        if enabled and before.status == "disabled":
            values.update(status="active", disabled_reason=None, failure_since=None)
        if target.url != before.url:
            values["failure_since"] = None
        await conn.execute(
            update(webhook_endpoints).where(webhook_endpoints.c.id == before.id).values(**values)
        )
        after = await get_endpoint(conn, partner_id=partner_id)
        assert after is not None
        await audit.record(
            conn,
            actor=actor,
            action="webhook_endpoint.update",
            target_type="webhook_endpoint",
            target_id=after.id,
            before=_audit_view(before),
            after=_audit_view(after),
            request_id=request_id,
            now=now,
        )
        return ConfiguredEndpoint(endpoint=after, created=False, secret=None)


async def rotate_secret(
    db: Database,
    *,
    partner_id: str,
    grace: timedelta,
    cipher: Cipher,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A new secret; the current one keeps signing until ``now + grace`` (returned). A rotation
    during a rotation drops the oldest secret: at most two ever sign. :class:`InvalidState` when
    no endpoint is configured."""
    now = now or utcnow()
    async with db.write() as conn:
        endpoint = await get_endpoint(conn, partner_id=partner_id)
        if endpoint is None:
            raise InvalidState("no webhook endpoint is configured; create one with PUT first")
        current = cipher.decrypt(endpoint.secret_encrypted, associated_data=_secret_ad(endpoint.id))
        secret = generate_webhook_secret()
        expires_at = now + grace
        await conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint.id)
            .values(
                secret_encrypted=cipher.encrypt(secret, associated_data=_secret_ad(endpoint.id)),
                previous_secret_encrypted=(
                    cipher.encrypt(current, associated_data=_secret_ad(endpoint.id))
                    if grace > timedelta(0)
                    else None
                ),
                previous_secret_expires_at=expires_at if grace > timedelta(0) else None,
                updated_at=now,
            )
        )
        await audit.record(
            conn,
            actor=actor,
            action="webhook_endpoint.rotate_secret",
            target_type="webhook_endpoint",
            target_id=endpoint.id,
            after={"previousSecretExpiresAt": expires_at},
            request_id=request_id,
            now=now,
        )
    return secret, expires_at


async def send_test_event(
    db: Database, *, partner_id: str, request_id: str | None = None, now: datetime | None = None
) -> EventView:
    """Queue a ``webhook.test`` event (delivered whatever the endpoint's ``eventTypes``).
    :class:`InvalidState` without an endpoint, or while it is disabled."""
    now = now or utcnow()
    async with db.write() as conn:
        endpoint = await get_endpoint(conn, partner_id=partner_id)
        if endpoint is None:
            raise InvalidState("no webhook endpoint is configured; create one with PUT first")
        if not endpoint.accepts_deliveries:
            raise InvalidState("the webhook endpoint is disabled; enable it with PUT first")
        event = await events.record_event(
            conn,
            partner_id=partner_id,
            event_type="webhook.test",
            data={"message": TEST_MESSAGE},
            request_id=request_id,
            now=now,
        )
    return EventView(event=event, attempts=[])


# -- events API ---------------------------------------------------------------------------------


async def _attempts_for(
    conn: AsyncConnection, event_ids: Sequence[str]
) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = {eid: [] for eid in event_ids}
    if not event_ids:
        return found
    rows = (
        (
            await conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.event_id.in_(list(event_ids)))
                .order_by(webhook_attempts.c.attempted_at, webhook_attempts.c.id)
            )
        )
        .mappings()
        .all()
    )
    for row in rows:
        found[row["event_id"]].append(Attempt.from_row(row))
    return found


async def list_events(
    conn: AsyncConnection,
    *,
    partner_id: str,
    event_type: str | None = None,
    status: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    now: datetime | None = None,
) -> Page[EventView]:
    """The partner's events of the last 30 days, newest first, each with its attempts."""
    now = now or utcnow()
    since = now - EVENT_RETENTION
    if created_from is None or created_from < since:
        created_from = since
    query = select(events_table).where(
        events_table.c.partner_id == partner_id, events_table.c.created_at >= created_from
    )
    if created_to is not None:
        query = query.where(events_table.c.created_at < created_to)
    if event_type is not None:
        query = query.where(events_table.c.type == event_type)
    if status is not None:
        query = query.where(events_table.c.delivery_status == status)
    page = await fetch_page(
        conn,
        query,
        created_col=events_table.c.created_at,
        id_col=events_table.c.id,
        limit=limit,
        cursor=cursor,
        build=Event.from_row,
    )
    attempts = await _attempts_for(conn, [e.id for e in page.data])
    return Page([EventView(event=e, attempts=attempts[e.id]) for e in page.data], page.next_cursor)


async def get_event(
    conn: AsyncConnection, *, event_id: str, partner_id: str | None = None
) -> EventView:
    """One event with its attempts; another partner's event is :class:`NotFound`."""
    query = select(events_table).where(events_table.c.id == event_id)
    if partner_id is not None:
        query = query.where(events_table.c.partner_id == partner_id)
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound("event not found")
    event = Event.from_row(row)
    return EventView(event=event, attempts=(await _attempts_for(conn, [event.id]))[event.id])


async def _queue_redelivery(
    conn: AsyncConnection, *, event: Event, request_id: str | None, now: datetime
) -> None:
    endpoint = await get_endpoint(conn, partner_id=event.partner_id)
    if endpoint is None:
        raise InvalidState("no webhook endpoint is configured")
    if not endpoint.accepts_deliveries:
        raise InvalidState("the webhook endpoint is disabled; enable it with PUT first")
    await conn.execute(
        update(events_table)
        .where(events_table.c.id == event.id)
        .values(delivery_status="pending", next_attempt_at=now, updated_at=now)
    )
    await jobs.enqueue(
        conn,
        kind=jobs.WEBHOOK_DELIVERY,
        payload={
            "eventId": event.id,
            "partnerId": event.partner_id,
            "attempt": 1,
            "redelivery": True,
        },
        dedupe_key=f"webhook:{event.id}:redeliver:{random_base62(12)}",
        request_id=request_id,
        now=now,
        max_attempts=1000,
    )


async def redeliver(
    db: Database,
    *,
    event_id: str,
    partner_id: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> EventView:
    """Deliver the event once more (same id), whatever its status; a fresh retry schedule.
    :class:`InvalidState` when there is no enabled endpoint."""
    now = now or utcnow()
    async with db.write() as conn:
        view = await get_event(conn, event_id=event_id, partner_id=partner_id)
        await _queue_redelivery(conn, event=view.event, request_id=request_id, now=now)
        return await get_event(conn, event_id=event_id)


async def retry_order_webhook(
    db: Database,
    *,
    order_id: str,
    actor: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> EventView:
    """Admin: redeliver the order's latest ``order.*`` event (audited ``event.redeliver``)."""
    now = now or utcnow()
    async with db.write() as conn:
        exists = await conn.scalar(select(orders.c.id).where(orders.c.id == order_id))
        if exists is None:
            raise NotFound("order not found")
        row = (
            (
                await conn.execute(
                    select(events_table)
                    .where(events_table.c.order_id == order_id, events_table.c.type.like("order.%"))
                    .order_by(events_table.c.created_at.desc(), events_table.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise InvalidState("the order has no event yet (it is still processing)")
        event = Event.from_row(row)
        await _queue_redelivery(conn, event=event, request_id=request_id, now=now)
        await audit.record(
            conn,
            actor=actor,
            action="event.redeliver",
            target_type="event",
            target_id=event.id,
            before={"deliveryStatus": event.delivery_status},
            after={"deliveryStatus": "pending", "orderId": order_id},
            request_id=request_id,
            now=now,
        )
        return await get_event(conn, event_id=event.id)


# -- delivery bookkeeping -----------------------------------------------------------------------


async def _close_event(db: Database, *, event_id: str, status: str, now: datetime) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(events_table)
            .where(events_table.c.id == event_id, events_table.c.delivery_status == "pending")
            .values(delivery_status=status, next_attempt_at=None, updated_at=now)
        )


async def prepare_delivery(
    db: Database, *, event_id: str, cipher: Cipher, now: datetime, redelivery: bool = False
) -> DeliveryPlan | None:
    """The plan for one attempt, or None when there is nothing (more) to send.

    Nothing to send: the event is gone or no longer ``pending``; the endpoint is disabled (the
    event becomes ``failed``, redeliverable once re-enabled); the partner unsubscribed from the
    type since (``not_subscribed``). ``webhook.test`` and explicit redeliveries ignore the type
    filter.
    """
    async with db.read() as conn:
        row = (
            (await conn.execute(select(events_table).where(events_table.c.id == event_id)))
            .mappings()
            .one_or_none()
        )
        if row is None:
            return None
        event = Event.from_row(row)
        if event.delivery_status != "pending":
            return None
        endpoint = await get_endpoint(conn, partner_id=event.partner_id)
    if endpoint is None:
        await _close_event(db, event_id=event_id, status="not_subscribed", now=now)
        return None
    if not endpoint.accepts_deliveries:
        await _close_event(db, event_id=event_id, status="failed", now=now)
        return None
    if not (event.type == "webhook.test" or redelivery) and event.type not in endpoint.event_types:
        await _close_event(db, event_id=event_id, status="not_subscribed", now=now)
        return None
    return DeliveryPlan(
        event=event,
        endpoint=endpoint,
        secrets=endpoint.secrets(cipher, now),
        body=payload_bytes(event),
    )


async def record_attempt(
    db: Database,
    *,
    plan: DeliveryPlan,
    attempted_at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    success: bool,
    next_attempt_at: datetime | None,
    disable_after: timedelta = DEFAULT_DISABLE_AFTER,
    now: datetime | None = None,
) -> bool:
    """Store one attempt and its consequences in one transaction; True when this failure
    disabled the endpoint. ``next_attempt_at`` None after a failure means retries are exhausted
    (the event becomes ``failed``). A ``delivered`` event is never moved back by a late failure.
    """
    now = now or utcnow()
    event_id, endpoint_id = plan.event.id, plan.endpoint.id
    delivered = events_table.c.delivery_status == "delivered"
    async with db.write() as conn:
        await conn.execute(
            insert(webhook_attempts).values(
                id=new_id("att"),
                event_id=event_id,
                partner_id=plan.event.partner_id,
                url=plan.endpoint.url,
                attempted_at=attempted_at,
                status_code=status_code,
                latency_ms=max(latency_ms, 0),
                error=None if error is None else error[:500],
                success=success,
            )
        )
        if success:
            await conn.execute(
                update(events_table)
                .where(events_table.c.id == event_id)
                .values(
                    delivery_status="delivered",
                    delivered_at=now,
                    next_attempt_at=None,
                    attempt_count=events_table.c.attempt_count + 1,
                    updated_at=now,
                )
            )
            if plan.endpoint.failure_since is not None:  # end the failure streak
                await conn.execute(
                    update(webhook_endpoints)
                    .where(
                        webhook_endpoints.c.id == endpoint_id,
                        webhook_endpoints.c.failure_since.is_not(None),
                    )
                    .values(failure_since=None)
                )
            return False
        new_status = "pending" if next_attempt_at is not None else "failed"
        await conn.execute(
            update(events_table)
            .where(events_table.c.id == event_id)
            .values(
                delivery_status=case((delivered, "delivered"), else_=new_status),
                next_attempt_at=None
                if next_attempt_at is None
                else case(
                    (delivered, null()),
                    else_=literal(next_attempt_at, type_=events_table.c.next_attempt_at.type),
                ),
                attempt_count=events_table.c.attempt_count + 1,
                updated_at=now,
            )
        )
        await conn.execute(
            update(webhook_endpoints)
            .where(
                webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.failure_since.is_(None)
            )
            .values(failure_since=attempted_at)
        )
        days = disable_after.total_seconds() / 86400
        reason = (
            f"Disabled by Steller after {days:g} days of failed deliveries "
            f"(last: {error or 'HTTP ' + str(status_code)})"
        )[:500]
        disabled = (
            await conn.execute(
                update(webhook_endpoints)
                .where(
                    webhook_endpoints.c.id == endpoint_id,
                    webhook_endpoints.c.status == "active",
                    webhook_endpoints.c.failure_since <= now - disable_after,
                )
                .values(status="disabled", disabled_reason=reason, updated_at=now)
                .returning(webhook_endpoints.c.id)
            )
        ).first()
        if disabled is not None:
            await audit.record(
                conn,
                actor="system",
                action="webhook_endpoint.disable",
                target_type="webhook_endpoint",
                target_id=endpoint_id,
                before={"status": "active"},
                after={"status": "disabled", "disabledReason": reason},
                request_id=None,
                now=now,
            )
        return disabled is not None


def is_prompt_redelivery(payload: Mapping[str, Any]) -> bool:
    """The first attempt of a delivery asked for by :func:`redeliver` (its retries are not)."""
    return bool(payload.get("redelivery")) and int(payload.get("attempt", 1)) == 1


async def push_back_deliveries(
    db: Database,
    *,
    partner_id: str,
    now: datetime,
    run_at: datetime,
    exclude_job_id: int | None = None,
) -> int:
    """Move the partner's queued delivery jobs that are due by ``run_at`` to ``run_at`` (one
    statement; not an attempt). Used when its endpoint is at its in-flight cap. Returns how many.
    Prompt redeliveries (:func:`is_prompt_redelivery`) stay where they are.
    """
    prompt = and_(
        jobs_table.c.payload["redelivery"].as_boolean().is_(True),
        jobs_table.c.payload["attempt"].as_integer() == 1,
    )
    query = (
        update(jobs_table)
        .where(
            jobs_table.c.kind == jobs.WEBHOOK_DELIVERY,
            jobs_table.c.status == "pending",
            jobs_table.c.run_at < run_at,
            jobs_table.c.payload["partnerId"].as_string() == partner_id,
            not_(func.coalesce(prompt, false())),
        )
        .values(run_at=run_at, updated_at=now)
    )
    if exclude_job_id is not None:
        query = query.where(jobs_table.c.id != exclude_job_id)
    async with db.write() as conn:
        result = await conn.execute(query)
    return int(result.rowcount or 0)
