"""Staff and operations: ``admin.users``, ``admin.audit_log``, ``admin.reconciliation``,
``admin.alerts`` and ``admin.incidents`` (the public status page)."""

from __future__ import annotations

from collections.abc import Sequence

from steller._config import NOT_GIVEN, NotGiven, RequestOptions
from steller._http import encode_path
from steller._pagination import AsyncPaginator, SyncPage
from steller._resources._base import (
    AsyncAPIResource,
    DateTimeInput,
    SyncAPIResource,
    enum_value,
)
from steller._response import async_to_raw_response_wrapper, to_raw_response_wrapper
from steller.models import (
    AdminRole,
    AdminUser,
    AdminUserCreate,
    Alert,
    AlertAck,
    AlertKind,
    AlertStatus,
    AuditEntry,
    AuditTargetType,
    AuditVerification,
    Incident,
    IncidentCreate,
    IncidentImpact,
    IncidentStatus,
    IncidentUpdate,
    ReconciliationRun,
    StatusComponentId,
)

__all__ = [
    "Alerts",
    "AsyncAlerts",
    "AsyncAuditLog",
    "AsyncIncidents",
    "AsyncReconciliation",
    "AsyncUsers",
    "AuditLog",
    "Incidents",
    "Reconciliation",
    "Users",
]

_USERS = "/api/admin/users"
_RECONCILIATION = "/api/admin/reconciliation"
_INCIDENTS = "/api/admin/incidents"


def _user_create(*, email: str, name: str, role: AdminRole | str, password: str) -> AdminUserCreate:
    return AdminUserCreate(
        email=email, name=name, role=enum_value(AdminRole, role), password=password
    )


def _audit_filters(
    *,
    actor: str | NotGiven,
    action: str | NotGiven,
    target_type: AuditTargetType | str | NotGiven,
    target_id: str | NotGiven,
    from_: DateTimeInput | NotGiven,
    to: DateTimeInput | NotGiven,
    limit: int | NotGiven,
) -> dict[str, object]:
    return {
        "actor": actor,
        "action": action,
        "targetType": target_type,
        "targetId": target_id,
        "from": from_,
        "to": to,
        "limit": limit,
    }


def _incident_create(
    *,
    title: str,
    impact: IncidentImpact | str,
    components: Sequence[StatusComponentId | str],
    message: str,
    status: IncidentStatus | str | NotGiven,
) -> IncidentCreate:
    return IncidentCreate(
        title=title,
        impact=enum_value(IncidentImpact, impact),
        components=[enum_value(StatusComponentId, c) for c in components],
        message=message,
        status=None if isinstance(status, NotGiven) else enum_value(IncidentStatus, status),
    )


def _incident_update(
    *,
    message: str,
    status: IncidentStatus | str | NotGiven,
    impact: IncidentImpact | str | NotGiven,
) -> IncidentUpdate:
    return IncidentUpdate(
        message=message,
        status=None if isinstance(status, NotGiven) else enum_value(IncidentStatus, status),
        impact=None if isinstance(impact, NotGiven) else enum_value(IncidentImpact, impact),
    )


# -- sync ---------------------------------------------------------------------------------------


class Users(SyncAPIResource):
    """``admin.users``: staff accounts (role ``admin`` only)."""

    def list(
        self, *, limit: int | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> SyncPage[AdminUser]:
        """Staff accounts.

        ::

            for user in admin.users.list():
                print(user.email, user.role, user.disabled)
        """
        return self._client.get_page(
            _USERS, item_type=AdminUser, params={"limit": limit}, options=options
        )

    def create(
        self,
        *,
        email: str,
        name: str,
        role: AdminRole | str,
        password: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AdminUser:
        """Create a staff account.

        ::

            admin.users.create(email="ana@steller.example", name="Ana", role="support",
                               password=generated_password)
        """
        return self._client.request(
            "POST",
            _USERS,
            json=_user_create(email=email, name=name, role=role, password=password),
            cast_to=AdminUser,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> UsersWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return UsersWithRawResponse(self)


class UsersWithRawResponse:
    """``admin.users.with_raw_response``."""

    def __init__(self, users: Users) -> None:
        self.list = to_raw_response_wrapper(users.list)
        self.create = to_raw_response_wrapper(users.create)


class AuditLog(SyncAPIResource):
    """``admin.audit_log``: the append-only, hash-chained record of every change."""

    def list(
        self,
        *,
        actor: str | NotGiven = NOT_GIVEN,
        action: str | NotGiven = NOT_GIVEN,
        target_type: AuditTargetType | str | NotGiven = NOT_GIVEN,
        target_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[AuditEntry]:
        """Audit entries, newest first.

        ::

            for entry in admin.audit_log.list(target_type="partner", target_id=partner_id):
                print(entry.created_at, entry.actor, entry.action, entry.reason)
        """
        return self._client.get_page(
            "/api/admin/audit-log",
            item_type=AuditEntry,
            params=_audit_filters(
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                from_=from_,
                to=to,
                limit=limit,
            ),
            options=options,
        )

    def verify(self, *, options: RequestOptions | None = None) -> AuditVerification:
        """Recompute the whole hash chain; ``valid=False`` names the first bad entry.

        ::

            check = admin.audit_log.verify()
            assert check.valid, check.first_invalid_id
        """
        return self._client.request(
            "GET", "/api/admin/audit-log/verify", cast_to=AuditVerification, options=options
        )

    @property
    def with_raw_response(self) -> AuditLogWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return AuditLogWithRawResponse(self)


class AuditLogWithRawResponse:
    """``admin.audit_log.with_raw_response``."""

    def __init__(self, audit_log: AuditLog) -> None:
        self.list = to_raw_response_wrapper(audit_log.list)
        self.verify = to_raw_response_wrapper(audit_log.verify)


class Reconciliation(SyncAPIResource):
    """``admin.reconciliation``: ledger vs balances, our orders vs the vendor's."""

    def start(
        self,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> ReconciliationRun:
        """Start a reconciliation run in the background.

        ::

            run = admin.reconciliation.start()
        """
        return self._client.request(
            "POST",
            _RECONCILIATION + "/run",
            cast_to=ReconciliationRun,
            idempotency_key=idempotency_key,
            options=options,
        )

    def get(self, run_id: str, *, options: RequestOptions | None = None) -> ReconciliationRun:
        """One run and its findings.

        ::

            run = admin.reconciliation.get("rec_6Tu8Vw0Xy2Za4Bc6")
            for finding in run.findings:
                print(finding.kind, finding.message)
        """
        return self._client.request(
            "GET",
            encode_path(_RECONCILIATION + "/runs/{id}", id=run_id),
            cast_to=ReconciliationRun,
            options=options,
        )

    @property
    def with_raw_response(self) -> ReconciliationWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return ReconciliationWithRawResponse(self)


class ReconciliationWithRawResponse:
    """``admin.reconciliation.with_raw_response``."""

    def __init__(self, reconciliation: Reconciliation) -> None:
        self.start = to_raw_response_wrapper(reconciliation.start)
        self.get = to_raw_response_wrapper(reconciliation.get)


class Alerts(SyncAPIResource):
    """``admin.alerts``: operational alerts, deduplicated by kind and subject."""

    def list(
        self,
        *,
        status: AlertStatus | str | NotGiven = NOT_GIVEN,
        kind: AlertKind | str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> SyncPage[Alert]:
        """Alerts, most recently seen first.

        ::

            for alert in admin.alerts.list(status="open"):
                print(alert.severity, alert.kind, alert.message)
        """
        return self._client.get_page(
            "/api/admin/alerts",
            item_type=Alert,
            params={"status": status, "kind": kind, "limit": limit},
            options=options,
        )

    def ack(
        self,
        alert_id: str,
        *,
        note: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Alert:
        """Acknowledge an alert (the ``note`` is the audit reason).

        ::

            admin.alerts.ack("alr_1Qw3Er5Ty7Ui9Op1", note="Vendor topped up")
        """
        return self._client.request(
            "POST",
            encode_path("/api/admin/alerts/{id}/ack", id=alert_id),
            json=AlertAck(note=None if isinstance(note, NotGiven) else note),
            cast_to=Alert,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AlertsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return AlertsWithRawResponse(self)


class AlertsWithRawResponse:
    """``admin.alerts.with_raw_response``."""

    def __init__(self, alerts: Alerts) -> None:
        self.list = to_raw_response_wrapper(alerts.list)
        self.ack = to_raw_response_wrapper(alerts.ack)


class Incidents(SyncAPIResource):
    """``admin.incidents``: incidents on the public status page."""

    def create(
        self,
        *,
        title: str,
        impact: IncidentImpact | str,
        components: Sequence[StatusComponentId | str],
        message: str,
        status: IncidentStatus | str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Incident:
        """Open an incident with its first public update.

        ::

            incident = admin.incidents.create(
                title="Slow fulfilment", impact="minor", components=["fulfilment"],
                message="Orders take longer than usual to complete.",
            )
        """
        body = _incident_create(
            title=title, impact=impact, components=components, message=message, status=status
        )
        return self._client.request(
            "POST",
            _INCIDENTS,
            json=body,
            cast_to=Incident,
            idempotency_key=idempotency_key,
            options=options,
        )

    def update(
        self,
        incident_id: str,
        *,
        message: str,
        status: IncidentStatus | str | NotGiven = NOT_GIVEN,
        impact: IncidentImpact | str | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Incident:
        """Post a public update, optionally changing status or impact (``resolved`` ends it).

        ::

            admin.incidents.update(incident.id, status="resolved", message="All clear.")
        """
        return self._client.request(
            "PATCH",
            encode_path(_INCIDENTS + "/{id}", id=incident_id),
            json=_incident_update(message=message, status=status, impact=impact),
            cast_to=Incident,
            options=options,
        )

    @property
    def with_raw_response(self) -> IncidentsWithRawResponse:
        """The same methods, returning the :class:`~steller.APIResponse`."""
        return IncidentsWithRawResponse(self)


class IncidentsWithRawResponse:
    """``admin.incidents.with_raw_response``."""

    def __init__(self, incidents: Incidents) -> None:
        self.create = to_raw_response_wrapper(incidents.create)
        self.update = to_raw_response_wrapper(incidents.update)


# -- async --------------------------------------------------------------------------------------


class AsyncUsers(AsyncAPIResource):
    """``admin.users`` of the async admin client."""

    def list(
        self, *, limit: int | NotGiven = NOT_GIVEN, options: RequestOptions | None = None
    ) -> AsyncPaginator[AdminUser]:
        """Staff accounts.

        ::

            async for user in admin.users.list():
                print(user.email)
        """
        return self._client.get_page(
            _USERS, item_type=AdminUser, params={"limit": limit}, options=options
        )

    async def create(
        self,
        *,
        email: str,
        name: str,
        role: AdminRole | str,
        password: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AdminUser:
        """Create a staff account.

        ::

            await admin.users.create(email="ana@steller.example", name="Ana", role="support",
                                     password=generated_password)
        """
        return await self._client.request(
            "POST",
            _USERS,
            json=_user_create(email=email, name=name, role=role, password=password),
            cast_to=AdminUser,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncUsersWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncUsersWithRawResponse(self)


class AsyncUsersWithRawResponse:
    """``admin.users.with_raw_response`` of the async admin client."""

    def __init__(self, users: AsyncUsers) -> None:
        self.list = async_to_raw_response_wrapper(users.list)
        self.create = async_to_raw_response_wrapper(users.create)


class AsyncAuditLog(AsyncAPIResource):
    """``admin.audit_log`` of the async admin client."""

    def list(
        self,
        *,
        actor: str | NotGiven = NOT_GIVEN,
        action: str | NotGiven = NOT_GIVEN,
        target_type: AuditTargetType | str | NotGiven = NOT_GIVEN,
        target_id: str | NotGiven = NOT_GIVEN,
        from_: DateTimeInput | NotGiven = NOT_GIVEN,
        to: DateTimeInput | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[AuditEntry]:
        """Audit entries, newest first.

        ::

            async for entry in admin.audit_log.list(action="wallet.credit"):
                print(entry.actor, entry.reason)
        """
        return self._client.get_page(
            "/api/admin/audit-log",
            item_type=AuditEntry,
            params=_audit_filters(
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                from_=from_,
                to=to,
                limit=limit,
            ),
            options=options,
        )

    async def verify(self, *, options: RequestOptions | None = None) -> AuditVerification:
        """Recompute the whole hash chain.

        ::

            check = await admin.audit_log.verify()
        """
        return await self._client.request(
            "GET", "/api/admin/audit-log/verify", cast_to=AuditVerification, options=options
        )

    @property
    def with_raw_response(self) -> AsyncAuditLogWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncAuditLogWithRawResponse(self)


class AsyncAuditLogWithRawResponse:
    """``admin.audit_log.with_raw_response`` of the async admin client."""

    def __init__(self, audit_log: AsyncAuditLog) -> None:
        self.list = async_to_raw_response_wrapper(audit_log.list)
        self.verify = async_to_raw_response_wrapper(audit_log.verify)


class AsyncReconciliation(AsyncAPIResource):
    """``admin.reconciliation`` of the async admin client."""

    async def start(
        self,
        *,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> ReconciliationRun:
        """Start a reconciliation run.

        ::

            run = await admin.reconciliation.start()
        """
        return await self._client.request(
            "POST",
            _RECONCILIATION + "/run",
            cast_to=ReconciliationRun,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def get(self, run_id: str, *, options: RequestOptions | None = None) -> ReconciliationRun:
        """One run and its findings.

        ::

            run = await admin.reconciliation.get("rec_6Tu8Vw0Xy2Za4Bc6")
        """
        return await self._client.request(
            "GET",
            encode_path(_RECONCILIATION + "/runs/{id}", id=run_id),
            cast_to=ReconciliationRun,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncReconciliationWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncReconciliationWithRawResponse(self)


class AsyncReconciliationWithRawResponse:
    """``admin.reconciliation.with_raw_response`` of the async admin client."""

    def __init__(self, reconciliation: AsyncReconciliation) -> None:
        self.start = async_to_raw_response_wrapper(reconciliation.start)
        self.get = async_to_raw_response_wrapper(reconciliation.get)


class AsyncAlerts(AsyncAPIResource):
    """``admin.alerts`` of the async admin client."""

    def list(
        self,
        *,
        status: AlertStatus | str | NotGiven = NOT_GIVEN,
        kind: AlertKind | str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> AsyncPaginator[Alert]:
        """Alerts, most recently seen first.

        ::

            async for alert in admin.alerts.list(status="open"):
                print(alert.message)
        """
        return self._client.get_page(
            "/api/admin/alerts",
            item_type=Alert,
            params={"status": status, "kind": kind, "limit": limit},
            options=options,
        )

    async def ack(
        self,
        alert_id: str,
        *,
        note: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Alert:
        """Acknowledge an alert.

        ::

            await admin.alerts.ack("alr_1Qw3Er5Ty7Ui9Op1", note="Vendor topped up")
        """
        return await self._client.request(
            "POST",
            encode_path("/api/admin/alerts/{id}/ack", id=alert_id),
            json=AlertAck(note=None if isinstance(note, NotGiven) else note),
            cast_to=Alert,
            idempotency_key=idempotency_key,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncAlertsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncAlertsWithRawResponse(self)


class AsyncAlertsWithRawResponse:
    """``admin.alerts.with_raw_response`` of the async admin client."""

    def __init__(self, alerts: AsyncAlerts) -> None:
        self.list = async_to_raw_response_wrapper(alerts.list)
        self.ack = async_to_raw_response_wrapper(alerts.ack)


class AsyncIncidents(AsyncAPIResource):
    """``admin.incidents`` of the async admin client."""

    async def create(
        self,
        *,
        title: str,
        impact: IncidentImpact | str,
        components: Sequence[StatusComponentId | str],
        message: str,
        status: IncidentStatus | str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Incident:
        """Open an incident; see :meth:`Incidents.create`.

        ::

            incident = await admin.incidents.create(
                title="Slow fulfilment", impact="minor", components=["fulfilment"],
                message="Orders take longer than usual.",
            )
        """
        body = _incident_create(
            title=title, impact=impact, components=components, message=message, status=status
        )
        return await self._client.request(
            "POST",
            _INCIDENTS,
            json=body,
            cast_to=Incident,
            idempotency_key=idempotency_key,
            options=options,
        )

    async def update(
        self,
        incident_id: str,
        *,
        message: str,
        status: IncidentStatus | str | NotGiven = NOT_GIVEN,
        impact: IncidentImpact | str | NotGiven = NOT_GIVEN,
        options: RequestOptions | None = None,
    ) -> Incident:
        """Post a public update to an incident.

        ::

            await admin.incidents.update(incident.id, status="resolved", message="All clear.")
        """
        return await self._client.request(
            "PATCH",
            encode_path(_INCIDENTS + "/{id}", id=incident_id),
            json=_incident_update(message=message, status=status, impact=impact),
            cast_to=Incident,
            options=options,
        )

    @property
    def with_raw_response(self) -> AsyncIncidentsWithRawResponse:
        """The same methods, returning the :class:`~steller.AsyncAPIResponse`."""
        return AsyncIncidentsWithRawResponse(self)


class AsyncIncidentsWithRawResponse:
    """``admin.incidents.with_raw_response`` of the async admin client."""

    def __init__(self, incidents: AsyncIncidents) -> None:
        self.create = async_to_raw_response_wrapper(incidents.create)
        self.update = async_to_raw_response_wrapper(incidents.update)
