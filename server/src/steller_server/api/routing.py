"""Endpoints: one wrapper that does, for every operation, what the contract promises.

A route module declares handlers with `@endpoints.op("operationId", auth=..., limit=...)`;
`build_routes` binds each to the method and path that `openapi.yaml` gives that operation.
Around the handler the wrapper runs, in order: authentication and role check, the rate limit,
path/query/body validation against the contract, the Idempotency-Key layer (POST), and the
problem+json mapping of domain errors. Handlers only parse what they were given, call the domain
and return a `Reply`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from steller_server.api import auth, versioning
from steller_server.api.contract import Contract, Operation
from steller_server.api.limits import Decision
from steller_server.api.problems import CODES, ProblemError, problem_response
from steller_server.api.state import AppState
from steller_server.domain import idempotency
from steller_server.domain.errors import DomainError
from steller_server.domain.keys import Capability, role_allows

log = logging.getLogger("steller.api")

Auth = Literal["public", "partner", "admin"]


@dataclass(slots=True)
class Reply:
    """What a handler returns: a status, a JSON-able body (or a byte stream) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    stream: AsyncIterator[bytes] | None = None


@dataclass(slots=True)
class Ctx:
    request: Request
    state: AppState
    operation: Operation
    request_id: str
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    partner: auth.PartnerPrincipal | None = None
    admin: auth.AdminPrincipal | None = None

    @property
    def client_ip(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"

    @property
    def actor(self) -> str:
        if self.partner is not None:
            return f"partner:{self.partner.partner_id}"
        if self.admin is not None:
            return f"admin:{self.admin.user_id}"
        return "public"


Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    operation_id: str
    handler: Handler
    auth: Auth
    capability: Capability | None
    roles: frozenset[str] | None
    limit: str | None
    store_idempotent: bool = True


class Endpoints:
    """A group of handlers, declared next to each other in one route module."""

    def __init__(self) -> None:
        self.specs: list[EndpointSpec] = []

    def op(
        self,
        operation_id: str,
        *,
        auth: Auth,
        capability: Capability | None = None,
        roles: set[str] | frozenset[str] | None = None,
        limit: str | None = "default",
        store_idempotent: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Declare a handler. Partners are checked by key `capability`, admins by `roles`.

        `store_idempotent=False` keeps a POST out of the Idempotency-Key store: the header is
        accepted but nothing is stored or replayed (for responses holding a secret that must
        never be kept, e.g. the admin login token).
        """

        def register(handler: Handler) -> Handler:
            spec = EndpointSpec(
                operation_id,
                handler,
                auth,
                capability,
                frozenset(roles) if roles else None,
                limit,
                store_idempotent,
            )
            self.specs.append(spec)
            return handler

        return register


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _request_hash(method: str, path: str, body: bytes) -> str:
    try:
        canonical = _json_bytes(json.loads(body)) if body.strip() else b""
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _render(reply: Reply, extra: Mapping[str, str]) -> Response:
    headers = {**reply.headers, **extra}
    if reply.stream is not None:
        return StreamingResponse(
            reply.stream, status_code=reply.status, media_type=reply.media_type, headers=headers
        )
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    content = reply.body if isinstance(reply.body, bytes) else _json_bytes(reply.body)
    return Response(content, status_code=reply.status, media_type=reply.media_type, headers=headers)


def _wrap(spec: EndpointSpec, operation: Operation, contract: Contract) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        state: AppState = request.app.state.steller
        scope_state = request.scope.setdefault("state", {})
        request_id: str = scope_state.get("request_id", "")
        limit_headers: dict[str, str] = {}
        try:
            ctx = Ctx(request, state, operation, request_id, dict(request.path_params), {}, None)
            # Credentials first: a caller without them learns nothing else about the request.
            decision = await _authenticate_and_limit(ctx, spec, scope_state)
            if decision is not None:
                limit_headers = decision.headers()
                if not decision.allowed:
                    state.metrics_rate_limited(decision.policy)
                    raise ProblemError(
                        "rate_limited",
                        f"Rate limit for '{decision.policy}' requests exceeded; "
                        f"retry after {decision.reset} s",
                    )
            _check_headers(scope_state)
            contract.check_path(operation, ctx.path)
            ctx.query = contract.parse_query(operation, request.query_params.multi_items())
            raw = await request.body()
            ctx.body = contract.parse_body(operation, raw, request.headers.get("content-type"))
            if operation.takes_idempotency_key:
                if spec.store_idempotent:
                    return await _idempotent(ctx, spec, raw, limit_headers)
                _check_idempotency_key(ctx.request.headers.get("idempotency-key"))
            reply = await spec.handler(ctx)
            return _render(reply, limit_headers)
        except ProblemError as exc:
            return problem_response(
                request, exc.code, exc.detail, errors=exc.errors,
                headers={**limit_headers, **exc.headers},
            )  # fmt: skip
        except DomainError as exc:
            return problem_response(
                request, exc.code, str(exc), errors=getattr(exc, "errors", None),
                headers=limit_headers,
            )  # fmt: skip
        except ClientDisconnect:
            # The client went away mid-request; nobody is left to answer.
            return Response(status_code=499)
        except Exception as exc:
            if state.is_unavailable(exc):
                log.warning("service unavailable: %s", exc)
                return problem_response(
                    request,
                    "service_unavailable",
                    "A backing service is unavailable; retry shortly",
                    headers={**limit_headers, "Retry-After": "2"},
                )
            log.exception("unhandled error in %s", spec.operation_id)
            return problem_response(
                request,
                "internal_error",
                "An internal error occurred; it has been logged with this request id",
                headers=limit_headers,
            )

    endpoint.__name__ = spec.operation_id
    return endpoint


def _check_headers(scope_state: dict[str, Any]) -> None:
    """Header problems the middleware noticed, answered once the route is known."""
    if scope_state.get("bad_request_id"):
        raise ProblemError(
            "validation_failed",
            "X-Request-Id must be 1 to 128 visible ASCII characters",
            errors=[{"pointer": "/header/X-Request-Id", "message": "1 to 128 visible ASCII"}],
        )
    unknown = scope_state.get("unknown_version")
    if unknown is not None:
        raise ProblemError(
            "unsupported_version",
            f"Steller-Version {unknown[:40]!r} is not a known version; current is "
            f"{versioning.CURRENT}",
        )


async def _authenticate_and_limit(
    ctx: Ctx, spec: EndpointSpec, scope_state: dict[str, Any]
) -> Decision | None:
    """Who is calling, then count the request against their budget.

    Refusals by authentication are counted too and carry the RateLimit headers (DESIGN.md §3:
    every response): against the key's budget when the key is known but its role is too weak,
    else against the client address (so guessing keys is throttled like any other traffic).
    """
    state = ctx.state
    policy = spec.limit or "default"
    if spec.auth == "public":
        if spec.limit is None:
            return None
        return await state.limiter.hit(policy, ctx.client_ip)
    try:
        identity, limit = await _authenticate(ctx, spec, scope_state)
    except _RoleRefused as refused:
        await _count_refusal(ctx, refused.problem, policy, refused.identity, refused.limit)
        raise refused.problem from None
    except ProblemError as exc:
        if exc.status in (401, 403):
            await _count_refusal(ctx, exc, policy, ctx.client_ip, None)
        raise
    return await state.limiter.hit(policy, identity, limit=limit)


class _RoleRefused(Exception):
    """Authenticated, but the role may not call the operation (the caller is known)."""

    def __init__(self, problem: ProblemError, identity: str, limit: int | None) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.identity = identity
        self.limit = limit


async def _authenticate(
    ctx: Ctx, spec: EndpointSpec, scope_state: dict[str, Any]
) -> tuple[str, int | None]:
    """The rate-limit identity and quota override of the caller; raises the auth problems."""
    state = ctx.state
    policy = spec.limit or "default"
    if spec.auth == "partner":
        # The role is checked here rather than in auth.resolve_partner so that a refused call
        # is still attributed to the partner (request log) and to the key's budget.
        partner = await auth.resolve_partner(ctx.request, state)
        scope_state["partner_id"] = partner.partner_id
        scope_state["key_id"] = partner.key_id
        if "requested_version" not in scope_state:
            scope_state["version"] = partner.api_version
        limits = partner.rate_limits
        limit = limits.get(policy) if limits else None
        if spec.capability is not None and not role_allows(partner.key.role, spec.capability):
            problem = ProblemError(
                "insufficient_role", f"A '{partner.key.role}' key may not call this operation"
            )
            raise _RoleRefused(problem, partner.key_id, limit)
        ctx.partner = partner
        return partner.key_id, limit
    admin = await auth.resolve_admin(ctx.request, state)
    if spec.roles is not None and admin.role not in spec.roles:
        problem = ProblemError(
            "insufficient_role", f"The '{admin.role}' role may not call this operation"
        )
        raise _RoleRefused(problem, admin.user_id, None)
    ctx.admin = admin
    return admin.user_id, None


async def _count_refusal(
    ctx: Ctx, problem: ProblemError, policy: str, identity: str, limit: int | None
) -> None:
    """Count a refused call and put the RateLimit headers on its problem; over the budget, the
    answer becomes the 429 instead."""
    decision = await ctx.state.limiter.hit(policy, identity, limit=limit)
    if not decision.allowed:
        ctx.state.metrics_rate_limited(decision.policy)
        raise ProblemError(
            "rate_limited",
            f"Rate limit for '{decision.policy}' requests exceeded; retry after {decision.reset} s",
            headers=decision.headers(),
        ) from None
    problem.headers = {**decision.headers(), **problem.headers}


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= 255:
        raise ProblemError(
            "validation_failed",
            "Idempotency-Key must be 1 to 255 characters",
            errors=[{"pointer": "/header/Idempotency-Key", "message": "1 to 255 characters"}],
        )


async def _idempotent(
    ctx: Ctx, spec: EndpointSpec, raw: bytes, limit_headers: dict[str, str]
) -> Response:
    key = ctx.request.headers.get("idempotency-key")
    if key is None:
        return _render(await spec.handler(ctx), limit_headers)
    _check_idempotency_key(key)
    owner = ctx.actor if ctx.partner or ctx.admin else f"ip:{ctx.client_ip}"
    scope = f"{owner}:{spec.operation_id}"
    request_hash = _request_hash(ctx.operation.method, ctx.request.url.path, raw)
    state = ctx.state
    outcome = await idempotency.begin(
        state.db, scope=scope, key=key, request_hash=request_hash, now=state.clock()
    )
    if isinstance(outcome, idempotency.Replay):
        # Stored bodies are encrypted at rest (a replayed key creation holds a secret).
        body = state.replay_cipher.decrypt(
            outcome.body.decode(), associated_data=f"{scope}|{key}"
        ).encode()
        headers = {**outcome.headers, **limit_headers, "Idempotent-Replayed": "true"}
        return Response(body, status_code=outcome.status, headers=headers)
    if isinstance(outcome, idempotency.InProgress):
        raise ProblemError(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed; retry shortly",
            headers={"Retry-After": "1"},
        )
    if isinstance(outcome, idempotency.Mismatch):
        raise ProblemError(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request",
        )
    try:
        reply = await spec.handler(ctx)
    except (ProblemError, DomainError) as exc:
        status = exc.status if isinstance(exc, ProblemError) else CODES[exc.code][0]
        if status >= 500 or status == 429:
            await idempotency.abandon(state.db, scope=scope, key=key)
            raise
        response = (
            problem_response(ctx.request, exc.code, exc.detail, errors=exc.errors)
            if isinstance(exc, ProblemError)
            else problem_response(
                ctx.request, exc.code, str(exc), errors=getattr(exc, "errors", None)
            )
        )
        await _store(ctx, scope, key, response)
        response.headers.update(limit_headers)
        return response
    except BaseException:
        await idempotency.abandon(state.db, scope=scope, key=key)
        raise
    if reply.stream is not None:
        await idempotency.abandon(state.db, scope=scope, key=key)
        return _render(reply, limit_headers)
    response = _render(reply, {})
    await _store(ctx, scope, key, response)
    response.headers.update(limit_headers)
    return response


async def _store(ctx: Ctx, scope: str, key: str, response: Response) -> None:
    keep = {k: v for k, v in response.headers.items() if k.lower() not in {"content-length"}}
    sealed = ctx.state.replay_cipher.encrypt(
        bytes(response.body).decode(), associated_data=f"{scope}|{key}"
    )
    await idempotency.complete(
        ctx.state.db,
        scope=scope,
        key=key,
        status=response.status_code,
        headers=keep,
        body=sealed.encode(),
    )


def _dispatch(
    by_method: dict[str, Callable[..., Any]], literal_paths: dict[str, list[str]]
) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        # `/api/orders/quote` also matches `/api/orders/{orderId}`: a method the literal path
        # lacks is a 405 there, not a lookup of an order called "quote".
        allowed = literal_paths.get(request.url.path)
        if allowed is not None:
            return problem_response(
                request,
                "method_not_allowed",
                "Method not allowed on this path",
                headers={"Allow": ", ".join(allowed)},
            )
        method = "GET" if request.method == "HEAD" else request.method
        response: Response = await by_method[method](request)
        return response

    return endpoint


def build_routes(contract: Contract, groups: list[Endpoints]) -> list[Route]:
    """Bind every declared handler to its contract path; refuse handlers the contract lacks.

    One route per path, so a 405 lists in `Allow` every method the path supports.
    """
    by_path: dict[str, dict[str, Callable[..., Any]]] = {}
    for group in groups:
        for spec in group.specs:
            operation = contract.operations.get(spec.operation_id)
            if operation is None:
                raise LookupError(f"{spec.operation_id} is not an operation in openapi.yaml")
            methods = by_path.setdefault(operation.path, {})
            if operation.method in methods:
                raise LookupError(f"two handlers for {operation.method} {operation.path}")
            methods[operation.method] = _wrap(spec, operation, contract)
    literal = {p: sorted(m) for p, m in by_path.items() if "{" not in p}
    routes = []
    for path, methods in sorted(by_path.items()):
        shadowed = {} if "{" not in path else _shadowed(path, literal)
        routes.append(Route(path, _dispatch(methods, shadowed), methods=sorted(methods)))
    return routes


def _shadowed(template: str, literal: dict[str, list[str]]) -> dict[str, list[str]]:
    """Literal paths that `template` would also match (same depth, equal fixed segments)."""
    parts = template.split("/")
    out: dict[str, list[str]] = {}
    for path, methods in literal.items():
        other = path.split("/")
        if len(other) == len(parts) and all(
            a == b or a.startswith("{") for a, b in zip(parts, other, strict=True)
        ):
            out[path] = methods
    return out
