"""Webhook delivery (job kind ``webhook_delivery``) and the low-balance re-check.

One job run is one HTTP attempt of one event, from the durable job table:

1. **Per-endpoint in-flight cap** (per worker process, :class:`EndpointGate`): an endpoint that
   answered fast may have any number of deliveries in flight (``healthy_in_flight``, default
   unlimited); one that is unproven, slow (``slow_after``), failing here or failing as recorded
   (``failure_since``) gets ``degraded_in_flight`` (1). A job over the cap is put back (``Later``,
   not an attempt) with the endpoint's queue: by a growing delay when the endpoint is degraded, so
   a hung partner holds one worker slot at a time while everyone else's deliveries keep flowing;
   by ``probe_retry`` (1 s) while its first answer is merely not in yet.
2. :func:`~steller_server.domain.webhooks.prepare_delivery` decides whether the event is still to
   be sent and with which secrets (two during a rotation).
3. POST the compact JSON body with the Standard Webhooks headers (``webhook-id`` = the event id,
   identical on every retry; ``webhook-timestamp`` of this attempt; ``webhook-signature`` with one
   ``v1,…`` per valid secret), signed by :func:`steller.webhooks.sign`. At most ``timeout`` (10 s,
   ``STELLER_WEBHOOK_TIMEOUT_SECONDS``) for the whole attempt — DNS, connect, TLS, response —
   enforced with a deadline, so a slow-dripping endpoint cannot stretch it. Redirects are not
   followed. 2xx = delivered.
4. Record the attempt; on failure come back per
   :data:`~steller_server.domain.webhooks.RETRY_SCHEDULE` with ``Later`` (the generic job backoff
   is not used), after the last (10th, ``STELLER_WEBHOOK_MAX_ATTEMPTS``) failure the event is
   ``failed``. Endpoints failing continuously for ``disable_after`` (5 days,
   ``STELLER_WEBHOOK_DISABLE_AFTER_DAYS``) are disabled with a ``disabledReason``.

**SSRF.** In live mode the HTTP client is a :class:`WebhookClient` whose transport resolves the
host right before connecting, refuses the connection unless every address is public
(:func:`steller_server.domain.ssrf.refused_address`) and connects to the checked address itself
(TLS still verifies and sends SNI for the original host name, and ``Host`` is unchanged), so DNS
rebinding between the configuration-time check and the delivery cannot reach internal addresses.
A live-mode delivery never uses a client that does not enforce this.

The worker passes ``webhook_http=build_http_client(settings.mode)`` (or leaves it None: the
handler then builds one per worker context). The knobs are a :class:`DeliveryConfig` built from
the ``STELLER_WEBHOOK_*`` settings (:meth:`DeliveryConfig.from_settings`), or the one a caller put
in ``ctx.extras["webhook_config"]``.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
import typing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx

from steller.webhooks import sign
from steller_server.domain import ssrf, wallets, webhooks
from steller_server.domain.models import Job
from steller_server.jobs.base import Done, JobContext, Later, Outcome
from steller_server.observability import metrics
from steller_server.settings import Settings

__all__ = [
    "CLIENT_KEY",
    "CONFIG_KEY",
    "GATE_KEY",
    "USER_AGENT",
    "DeliveryConfig",
    "EndpointGate",
    "WebhookClient",
    "build_http_client",
    "retry_schedule",
    "run",
    "run_low_balance_check",
]

CONFIG_KEY = "webhook_config"
GATE_KEY = "webhook_gate"
CLIENT_KEY = "webhook_client"
USER_AGENT = "Steller-Webhooks/1.0"
_DRAIN_LIMIT = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    """Delivery knobs; defaults are the contract's."""

    #: Whole-attempt deadline, seconds.
    timeout: float = 10.0
    schedule: tuple[timedelta, ...] = webhooks.RETRY_SCHEDULE
    disable_after: timedelta = webhooks.DEFAULT_DISABLE_AFTER
    #: Deliveries in flight per endpoint per worker process once it answered fast (None = no
    #: cap) / while it is unproven, slow or failing.
    healthy_in_flight: int | None = None
    degraded_in_flight: int = 1
    #: An answer (or an attempt still running) slower than this, in seconds, degrades.
    slow_after: float = 2.0
    #: How long a job may wait for the verdict of an unproven endpoint's first delivery before it
    #: is put back (seconds); a healthy endpoint answers well within it.
    probe_wait: float = 0.25
    #: A job that waited ``probe_wait`` in vain for an unproven endpoint's verdict comes back
    #: after this (plus up to as much again as jitter); only a degraded endpoint is deferred.
    probe_retry: timedelta = timedelta(seconds=1)
    #: Put-back delay of a job over the cap: base * 2**n (n = times put back), capped, plus up to
    #: half of it again as jitter.
    defer_base: timedelta = timedelta(seconds=30)
    defer_cap: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        """The operator's ``STELLER_WEBHOOK_TIMEOUT_SECONDS``, ``_MAX_ATTEMPTS`` and
        ``_DISABLE_AFTER_DAYS``; the other knobs keep their defaults."""
        return cls(
            timeout=float(settings.webhook_timeout_seconds),
            schedule=retry_schedule(settings.webhook_max_attempts),
            disable_after=timedelta(days=settings.webhook_disable_after_days),
        )


def retry_schedule(attempts: int) -> tuple[timedelta, ...]:
    """The delays before each of ``attempts`` attempts: the documented schedule, cut short or
    carried on with its last delay (24 h)."""
    base = webhooks.RETRY_SCHEDULE
    attempts = max(attempts, 1)
    return base[:attempts] + (base[-1],) * max(attempts - len(base), 0)


class EndpointGate:
    """In-flight deliveries per endpoint (keyed by partner id) in this worker process.

    Health is what this process saw: unknown until the first answer, healthy after a fast 2xx,
    degraded after a failure, a slow answer, an attempt running longer than ``slow_after``, or
    when the endpoint's persisted ``failure_since`` is set. Healthy endpoints get
    ``healthy_in_flight`` slots, the others ``degraded_in_flight`` (1): jobs for an unknown
    endpoint wait up to ``probe_wait`` for the first verdict; jobs for a degraded one are put back
    at once. The event loop is single-threaded and no ``await`` separates a check from its
    update, so no lock is needed.
    """

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._busy_since: dict[str, float] = {}
        self._healthy: dict[str, bool] = {}
        self._changed: dict[str, asyncio.Event] = {}
        #: Per endpoint: (monotonic time until which its queue was pushed back, times in a row).
        self._pushed: dict[str, tuple[float, int]] = {}
        #: Per endpoint: monotonic time until which its queue was pushed back awaiting a probe.
        self._probe_pushed: dict[str, float] = {}

    def probe_push_due(self, key: str, config: DeliveryConfig) -> bool:
        """Whether to push the endpoint's queue back by ``probe_retry`` now (once per
        ``probe_retry`` while its first verdict is awaited)."""
        now = time.monotonic()
        if now < self._probe_pushed.get(key, 0.0):
            return False
        self._probe_pushed[key] = now + config.probe_retry.total_seconds()
        return True

    def push_back_due(self, key: str, config: DeliveryConfig) -> timedelta | None:
        """How far to push back the endpoint's other queued jobs now, or None when that was
        already done for this stretch (one bulk statement per stretch, not one per job)."""
        until, times = self._pushed.get(key, (0.0, 0))
        now = time.monotonic()
        if now < until:
            return None
        delay: timedelta = min(config.defer_base * (2 ** min(times, 16)), config.defer_cap)
        self._pushed[key] = (now + delay.total_seconds() / 2, times + 1)
        return delay

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    def health(self, key: str, config: DeliveryConfig) -> bool | None:
        """True healthy, False degraded, None unknown."""
        known = self._healthy.get(key)
        if (
            known is not True
            and self.in_flight(key)
            and time.monotonic() - self._busy_since[key] >= config.slow_after
        ):
            return False  # the attempt in flight is already too slow
        return known

    def cap(self, key: str, config: DeliveryConfig) -> int | None:
        healthy = self.health(key, config) is True
        return config.healthy_in_flight if healthy else config.degraded_in_flight

    def _try_enter(self, key: str, config: DeliveryConfig) -> bool:
        cap = self.cap(key, config)
        if cap is not None and self.in_flight(key) >= cap:
            return False
        if not self.in_flight(key):
            self._busy_since[key] = time.monotonic()
        self._in_flight[key] = self.in_flight(key) + 1
        return True

    async def enter(self, key: str, config: DeliveryConfig) -> bool:
        """Take a slot for ``key``; False (nothing taken) when it stays at its cap."""
        deadline = time.monotonic() + config.probe_wait
        while not self._try_enter(key, config):
            remaining = deadline - time.monotonic()
            if self.health(key, config) is False or remaining <= 0:
                return False
            changed = self._changed.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def over_cap(self, key: str, config: DeliveryConfig) -> bool:
        cap = self.cap(key, config)
        return cap is not None and self.in_flight(key) > cap

    def degrade(self, key: str) -> None:
        self._healthy[key] = False

    def leave(self, key: str, *, healthy: bool | None) -> None:
        """Free the slot; ``healthy`` True/False records the verdict, None leaves it."""
        left = self.in_flight(key) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)
            self._busy_since.pop(key, None)
        if healthy is not None:
            self._healthy[key] = healthy
            if healthy:
                self._pushed.pop(key, None)
        changed = self._changed.pop(key, None)
        if changed is not None:
            changed.set()


# -- HTTP --------------------------------------------------------------------------------------


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Resolves, refuses unless every address is public, connects to a checked address."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await ssrf.checked_addresses(host, port)
        except ssrf.UrlNotAllowed as exc:
            raise httpcore.ConnectError(f"blocked: {exc.detail}") from None
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002
        timeout: float | None = None,  # noqa: ARG002, ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("blocked: unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PublicOnlyTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        # httpx builds its pool without a way to pass a network backend; swap in one that has it.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_PublicOnlyBackend(),
        )


class WebhookClient(httpx.AsyncClient):
    """The outbound client for webhooks: no redirects, no proxies from the environment and, when
    ``public_only`` (live mode), connections only to public addresses checked at connect time."""

    def __init__(
        self, *, public_only: bool, timeout: float = 10.0, max_connections: int = 500
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        )
        transport: httpx.AsyncBaseTransport
        if public_only:
            transport = _PublicOnlyTransport(
                limits=limits, ssl_context=ssl.create_default_context()
            )
        else:
            transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        super().__init__(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )
        self.public_only = public_only


def build_http_client(mode: str, *, timeout: float = 10.0) -> WebhookClient:
    """The client a worker should pass as ``webhook_http`` (close it when the worker stops)."""
    return WebhookClient(public_only=mode == "live", timeout=timeout)


def _client(ctx: JobContext, config: DeliveryConfig) -> httpx.AsyncClient:
    live = ctx.settings.mode == "live"
    given = ctx.webhook_http
    if given is not None and (not live or (isinstance(given, WebhookClient) and given.public_only)):
        return given
    client = ctx.extras.get(CLIENT_KEY)
    if not isinstance(client, WebhookClient) or client.public_only != live:
        client = build_http_client(ctx.settings.mode, timeout=config.timeout)
        ctx.extras[CLIENT_KEY] = client
    return client


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout: {text}" if text else "timeout"
    if isinstance(exc, httpx.ConnectError):
        return text if text.startswith("blocked:") else f"connection failed: {text or 'refused'}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], deadline: float
) -> tuple[int | None, str | None]:
    """(status code, error) of one POST within ``deadline`` seconds overall. Once the status line
    is in, a slow or broken body does not matter: the status decides."""
    status: int | None = None
    try:
        async with asyncio.timeout(deadline):
            async with client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
                drained = 0  # read a little so the connection can be reused; ignore the rest
                async for chunk in response.aiter_raw():
                    drained += len(chunk)
                    if drained >= _DRAIN_LIMIT:
                        break
    except TimeoutError:
        if status is None:
            return None, f"timeout after {deadline:g} s"
    except httpx.HTTPError as exc:
        if status is None:
            return None, _describe(exc)[:500]
    if status is None:  # pragma: no cover - every path above sets it or returns
        return None, "no response"
    if 200 <= status < 300:
        return status, None
    if 300 <= status < 400:
        return status, f"HTTP {status} (redirects are not followed)"
    return status, f"HTTP {status}"


# -- handlers -----------------------------------------------------------------------------------


def _config(ctx: JobContext) -> DeliveryConfig:
    config = ctx.extras.get(CONFIG_KEY)
    if not isinstance(config, DeliveryConfig):
        config = DeliveryConfig.from_settings(ctx.settings)
        ctx.extras[CONFIG_KEY] = config
    return config


def _gate(ctx: JobContext) -> EndpointGate:
    gate = ctx.extras.get(GATE_KEY)
    if not isinstance(gate, EndpointGate):
        gate = EndpointGate()
        ctx.extras[GATE_KEY] = gate
    return gate


async def _put_back(
    job: Job, ctx: JobContext, key: str, now: datetime, config: DeliveryConfig
) -> Later:
    """This job over the cap goes back (``Later``), and the endpoint's other due jobs with it in
    one statement, so a hung partner's backlog is not claimed and put back job by job.

    How far depends on what is known: a degraded endpoint's jobs go back by the growing
    ``defer_base`` delay; an endpoint whose first answer is merely not in yet (unknown, not yet
    slow) only by ``probe_retry``. Deferring a healthy partner's whole backlog by ``defer_base``
    (then more) because a fresh worker's probe took longer than ``probe_wait`` stalled its
    deliveries for minutes."""
    gate = _gate(ctx)
    if webhooks.is_prompt_redelivery(job.payload):
        # Asked for now, by the partner or an admin (usually right after their endpoint came
        # back): never parked behind the endpoint's growing backoff, which another worker
        # process may still hold from the outage. It waits for a slot like a probe and moves no
        # other job. Bounded: only its first attempt, and a slot frees within ``timeout``.
        jitter = config.probe_retry * random.uniform(0, 1)  # noqa: S311 (spreading load)
        return Later(now + config.probe_retry + jitter)
    if gate.health(key, config) is not False:
        if gate.probe_push_due(key, config):
            await webhooks.push_back_deliveries(
                ctx.db,
                partner_id=key,
                now=now,
                run_at=now + config.probe_retry,
                exclude_job_id=job.id,
            )
        jitter = config.probe_retry * random.uniform(0, 1)  # noqa: S311 (spreading load)
        return Later(now + config.probe_retry + jitter)
    delay = gate.push_back_due(key, config)
    if delay is not None:
        await webhooks.push_back_deliveries(
            ctx.db, partner_id=key, now=now, run_at=now + delay, exclude_job_id=job.id
        )
    return _defer(job, now, config)


def _defer(job: Job, now: datetime, config: DeliveryConfig) -> Later:
    deferrals = int(job.payload.get("deferrals", 0))
    delay = min(config.defer_base * (2 ** min(deferrals, 16)), config.defer_cap)
    jitter = delay * random.uniform(0, 0.5)  # noqa: S311 (spreading load, not crypto)
    return Later(now + delay + jitter, payload={**job.payload, "deferrals": deferrals + 1})


async def run(job: Job, ctx: JobContext) -> Outcome:
    """Deliver one event once (see the module docstring)."""
    config = _config(ctx)
    gate = _gate(ctx)
    payload: dict[str, Any] = dict(job.payload)
    event_id = str(payload["eventId"])
    attempt = int(payload.get("attempt", 1))
    redelivery = bool(payload.get("redelivery", False))
    now = ctx.clock()
    key = payload.get("partnerId")
    if isinstance(key, str) and not await gate.enter(key, config):
        return await _put_back(job, ctx, key, now, config)
    entered = isinstance(key, str)
    try:
        cipher = webhooks.secret_cipher(ctx.settings.effective_secret_key)
        plan = await webhooks.prepare_delivery(
            ctx.db, event_id=event_id, cipher=cipher, now=now, redelivery=redelivery
        )
        if plan is None:
            return Done()
        key = plan.event.partner_id
        if not entered:
            if not await gate.enter(key, config):
                return await _put_back(job, ctx, key, now, config)
            entered = True
        if plan.endpoint.failure_since is not None and gate.health(key, config) is not False:
            gate.degrade(key)  # failing as seen by any worker: one slot here too
            if gate.over_cap(key, config):
                gate.leave(key, healthy=None)
                entered = False
                return await _put_back(job, ctx, key, now, config)

        headers = sign(plan.body, list(plan.secrets), msg_id=plan.event.id, timestamp=now)
        headers["content-type"] = "application/json"
        started = time.perf_counter()
        status, error = await _post(
            _client(ctx, config), plan.endpoint.url, plan.body, headers, config.timeout
        )
        elapsed = time.perf_counter() - started
        success = error is None
        metrics.webhook_delivery("delivered" if success else "failed", elapsed)
        # The verdict frees the slot before the bookkeeping write: jobs waiting on an unproven
        # endpoint should not also wait for the database.
        gate.leave(key, healthy=success and elapsed < config.slow_after)
        entered = False
        finished = ctx.clock()
        next_at = None
        if not success and attempt < len(config.schedule):
            next_at = finished + config.schedule[attempt]
        await webhooks.record_attempt(
            ctx.db,
            plan=plan,
            attempted_at=now,
            status_code=status,
            latency_ms=int(elapsed * 1000),
            error=error,
            success=success,
            next_attempt_at=next_at,
            disable_after=config.disable_after,
            now=finished,
        )
        if next_at is None:
            return Done()
        return Later(
            next_at,
            payload={
                "eventId": event_id,
                "partnerId": key,
                "attempt": attempt + 1,
                "redelivery": redelivery,
            },
        )
    finally:
        if entered and isinstance(key, str):
            gate.leave(key, healthy=None)


async def run_low_balance_check(job: Job, ctx: JobContext) -> Outcome:
    """Re-evaluate ``wallet.low_balance`` for ``{"partnerId"}`` against the current balance (e.g.
    after the threshold changed): emits the event if the balance is now below and not yet
    notified, re-arms it when back above — the same exactly-once rule as money movements."""
    partner_id = str(job.payload["partnerId"])
    async with ctx.db.write() as conn:
        wallet = await wallets.get_wallet(conn, partner_id=partner_id)
        await wallets.note_balance_change(
            conn,
            partner_id=partner_id,
            wallet_id=wallet.id,
            balance_minor=wallet.balance_minor,
            currency=wallet.currency,
            request_id=job.request_id,
            now=ctx.clock(),
        )
    return Done()


def with_config(ctx: JobContext, **changes: Any) -> DeliveryConfig:
    """Set (and return) this context's :class:`DeliveryConfig` with ``changes`` applied."""
    config = replace(_config(ctx), **changes)
    ctx.extras[CONFIG_KEY] = config
    return config
