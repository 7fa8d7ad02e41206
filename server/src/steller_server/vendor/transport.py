"""HTTP for the Bamboo client: one logical call = limiter slot, send, classify, retry.

Retries (tenacity) cover transient failures only — connect errors, timeouts, 5xx — with jittered
exponential backoff capped in attempts *and* total time, and 429 answers whose "Please wait for N
seconds." fits within ``max_wait``. Everything else surfaces as a typed ``VendorError``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from steller_server.observability.vendor import observe_vendor_call
from steller_server.vendor.errors import (
    VendorAuthError,
    VendorError,
    VendorProtocolError,
    VendorRateLimited,
    VendorRejected,
    VendorUnavailable,
)
from steller_server.vendor.limits import VendorLimiter

__all__ = ["RetryPolicy", "VendorHTTP"]

#: Metric/log outcome of each vendor error type (anything else: ``error``).
_OUTCOMES = {
    "VendorUnavailable": "unavailable",
    "VendorRateLimited": "rate_limited",
    "VendorAuthError": "auth_error",
    "VendorProtocolError": "protocol_error",
    "VendorRejected": "rejected",
    "VendorOrderNotFound": "not_found",
}

_WAIT_TEXT = re.compile(r"wait\s+for\s+(\d+(?:\.\d+)?)\s+second", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Caps on retries of transient failures: attempts *and* total time; jittered backoff."""

    attempts: int = 5
    total_seconds: float = 120.0
    backoff_initial: float = 0.25
    backoff_max: float = 8.0


class _Transient(Exception):
    """Worth retrying. ``ambiguous``: the request may have reached Bamboo."""

    def __init__(self, message: str, *, status_code: int | None, ambiguous: bool) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.ambiguous = ambiguous


class _RetryAfter(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class VendorHTTP:
    """Sends requests for one credential (``scope``) through the shared limiter."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        auth: httpx.BasicAuth,
        scope: str,
        limiter: VendorLimiter,
        retry: RetryPolicy,
        max_wait: float,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self.scope = scope
        self.limiter = limiter
        self.retry = retry
        self.max_wait = max_wait

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        product_ids: Sequence[int] = (),
    ) -> Any:
        """One logical call: limiter, send, retries; returns the parsed 2xx body."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._call(
                endpoint, method, path, params=params, body=body, product_ids=product_ids
            )
            outcome = "ok"
            return result
        except VendorError as exc:
            outcome = _OUTCOMES.get(type(exc).__name__, "error")
            raise
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            observe_vendor_call(endpoint, method, path, outcome, time.perf_counter() - started)

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        body: Any,
        product_ids: Sequence[int],
    ) -> Any:
        ambiguous = False
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((_Transient, _RetryAfter)),
            wait=self._wait,
            stop=stop_after_attempt(self.retry.attempts)
            | stop_after_delay(self.retry.total_seconds),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self.limiter.acquire(self.scope, endpoint, product_ids)
                    try:
                        return await self._send(method, path, params=params, body=body)
                    except _Transient as exc:
                        ambiguous = ambiguous or exc.ambiguous
                        raise
        except _Transient as exc:
            raise VendorUnavailable(
                f"{method} {path}: {exc}",
                status_code=exc.status_code,
                outcome_unknown=ambiguous and method == "POST",
            ) from exc
        except _RetryAfter as exc:
            raise VendorRateLimited(
                f"{method} {path}: still rate limited", retry_after=exc.seconds
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryAfter):
            return exc.seconds
        backoff = wait_random_exponential(
            multiplier=self.retry.backoff_initial, max=self.retry.backoff_max
        )
        return float(backoff(state))

    async def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None, body: Any
    ) -> Any:
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            content = json.dumps(body, default=_json_default).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                content=content,
                headers=headers,
                auth=self._auth,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Transient(repr(exc), status_code=None, ambiguous=False) from exc
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Transient(repr(exc), status_code=None, ambiguous=True) from exc
        return self._handle(response)

    def _handle(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 429:
            seconds = _retry_after(response.text)
            if seconds is None or seconds > self.max_wait:
                raise VendorRateLimited(response.text[:200], retry_after=seconds)
            raise _RetryAfter(seconds)
        if status >= 500:
            raise _Transient(f"HTTP {status}", status_code=status, ambiguous=True)
        data = _parse(response)
        if status in {401, 403}:
            detail = data.get("error") or data.get("message") if isinstance(data, dict) else None
            raise VendorAuthError(str(detail or f"HTTP {status}"), status_code=status)
        if 400 <= status < 500:
            reason = data.get("message") if isinstance(data, dict) else None
            if reason:
                raise VendorRejected(str(reason), status_code=status)
            raise VendorError(f"HTTP {status}: {response.text[:200]}", status_code=status)
        return data


def _retry_after(text: str) -> float | None:
    match = _WAIT_TEXT.search(text)
    return float(match.group(1)) if match else None


def _parse(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        if response.is_success:
            raise VendorProtocolError(f"not JSON: {response.text[:200]}") from exc
        return None
