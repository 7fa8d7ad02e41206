"""Small configuration objects: timeouts, the retry policy, environments, and ``NOT_GIVEN``.

Everything here is immutable (frozen attrs classes, constants), so a client and its
``with_options()`` copies can share them freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, final

import attrs
import httpx

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "ENVIRONMENTS",
    "LIVE_BASE_URL",
    "NOT_GIVEN",
    "SANDBOX_BASE_URL",
    "Environment",
    "NotGiven",
    "RequestOptions",
    "RetryPolicy",
    "Timeout",
    "TimeoutTypes",
    "base_url_for",
    "to_httpx_timeout",
]


@final
class NotGiven:
    """The type of :data:`NOT_GIVEN`: "the caller did not pass this argument".

    Test for it with ``isinstance(value, NotGiven)``. It is distinct from ``None``, which is
    often a meaningful value: ``timeout=None`` disables
    the timeout, ``idempotency_key=None`` opts out of the automatic key, while leaving either
    argument out (``NOT_GIVEN``) means "use the client's default"::

        client.orders.create(..., idempotency_key=None)  # send no Idempotency-Key at all
    """

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()

Environment = Literal["sandbox", "live"]

#: The reference server as ``steller-server sandbox`` runs it on a developer machine.
SANDBOX_BASE_URL: Final = "http://127.0.0.1:8000"
#: Production.
LIVE_BASE_URL: Final = "https://api.steller.example"
#: Read-only map from environment name to base URL.
ENVIRONMENTS: Final[Mapping[Environment, str]] = MappingProxyType(
    {"sandbox": SANDBOX_BASE_URL, "live": LIVE_BASE_URL}
)


def base_url_for(environment: Environment) -> str:
    """Return the base URL of a named environment (``"sandbox"`` or ``"live"``)."""
    try:
        return ENVIRONMENTS[environment]
    except KeyError:
        choices = ", ".join(repr(name) for name in ENVIRONMENTS)
        msg = f"unknown environment {environment!r}; expected one of {choices}"
        raise ValueError(msg) from None


def _optional_non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value >= 0:
        msg = f"{attribute.name} must be a non-negative number or None, got {value!r}"
        raise ValueError(msg)


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        msg = f"{attribute.name} must be a non-negative number, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class Timeout:
    """Per-phase timeouts in seconds (``None`` disables that phase's timeout).

    * ``connect``: establishing the TCP/TLS connection;
    * ``read``: waiting for each chunk of the response;
    * ``write``: sending each chunk of the request;
    * ``pool``: waiting for a free connection from the pool.

    A plain number anywhere a timeout is accepted sets all four phases::

        Steller(timeout=10)  # same as Timeout(connect=10, read=10, write=10, pool=10)
        Steller(timeout=Timeout(connect=2, read=30))
    """

    connect: float | None = attrs.field(default=5.0, validator=_optional_non_negative)
    read: float | None = attrs.field(default=30.0, validator=_optional_non_negative)
    write: float | None = attrs.field(default=30.0, validator=_optional_non_negative)
    pool: float | None = attrs.field(default=10.0, validator=_optional_non_negative)

    def to_httpx(self) -> httpx.Timeout:
        """This timeout as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


DEFAULT_TIMEOUT: Final = Timeout()

#: Anything accepted as a timeout: seconds for every phase, a :class:`Timeout`, an
#: :class:`httpx.Timeout`, or ``None`` for no timeout at all.
TimeoutTypes = float | Timeout | httpx.Timeout | None


def to_httpx_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    """Normalise any accepted timeout value to an :class:`httpx.Timeout`."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, Timeout):
        return timeout.to_httpx()
    return httpx.Timeout(timeout)


DEFAULT_MAX_RETRIES: Final = 2


@attrs.frozen
class RetryPolicy:
    """How the SDK retries failed requests (bounded in attempts *and* time).

    What is retried is fixed by the SDK (connection errors always; timeouts, 408, 429 and 5xx
    only for requests that are safe to replay: idempotent methods or requests carrying an
    ``Idempotency-Key``). This object says how often and how long:

    * ``max_retries``: retries after the first attempt (``0`` disables retrying);
    * ``initial_backoff``/``max_backoff``/``jitter``: the wait before retry *n* is
      ``min(max_backoff, initial_backoff * 2 ** (n - 1) + uniform(0, jitter))`` seconds;
    * ``max_retry_after``: a server-requested wait (``Retry-After``, or the reset of an
      exhausted ``RateLimit`` policy) is honoured up to this many seconds; a longer one ends
      the retries at once and the error (e.g. :class:`~steller.RateLimitError` with its
      ``retry_after``) reaches the caller, who can reschedule the work;
    * ``max_total_time``: no retry is started if its wait would end more than this many
      seconds after the first attempt began (``None``: no limit).

    Example::

        Steller(retry=RetryPolicy(max_retries=5, max_total_time=120))
        client.with_options(max_retries=0)  # a copy that never retries
    """

    max_retries: int = attrs.field(default=DEFAULT_MAX_RETRIES, validator=_non_negative)
    initial_backoff: float = attrs.field(default=0.5, validator=_non_negative)
    max_backoff: float = attrs.field(default=8.0, validator=_non_negative)
    jitter: float = attrs.field(default=1.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    max_total_time: float | None = attrs.field(default=90.0, validator=_optional_non_negative)


DEFAULT_RETRY_POLICY: Final = RetryPolicy()


@attrs.frozen
class RequestOptions:
    """Per-call overrides of the client's settings, passed as ``options=`` to a resource method.

    Any field left as ``NOT_GIVEN`` (or ``None`` for the mappings) keeps the client's value::

        client.orders.get("ord_123", options=RequestOptions(timeout=5, max_retries=0))
    """

    timeout: TimeoutTypes | NotGiven = NOT_GIVEN
    max_retries: int | NotGiven = NOT_GIVEN
    retry: RetryPolicy | NotGiven = NOT_GIVEN
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, object] | None = None
