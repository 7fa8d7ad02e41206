"""The request context, as one pure ASGI middleware around the router.

For every HTTP request it: takes or makes the request id; checks `Steller-Version`; enforces the
body size cap; stamps `X-Request-Id` and `Steller-Version` (and `Deprecation`/`Sunset`) on every
response, errors included; and hands a request-log record to the background sink, so logging never
adds a database write to the request path.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steller_server.api import versioning
from steller_server.api.problems import ProblemError, problem_response
from steller_server.observability.logging import REQUEST_ID

_REQUEST_ID = re.compile(r"^[\x21-\x7E]{1,128}$")


def new_request_id() -> str:
    return "req_" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        on_request_done: Callable[[dict[str, Any]], None] | None = None,
        observer: Callable[[Scope, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.on_request_done = on_request_done
        #: Called for every request once answered (metrics + the request log line).
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        raw_request_id = headers.get(b"x-request-id")
        incoming = raw_request_id.decode("latin-1") if raw_request_id is not None else ""
        bad_request_id = raw_request_id is not None and not _REQUEST_ID.match(incoming)
        request_id = (
            incoming if raw_request_id is not None and not bad_request_id else new_request_id()
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["version"] = versioning.CURRENT
        path = scope["path"]
        raw_path = scope.get("raw_path")
        instance = raw_path.decode("latin-1") if raw_path else path

        async def reply(
            response_code: str,
            detail: str,
            extra: dict[str, str],
            errors: list[dict[str, str]] | None = None,
        ) -> None:
            response = problem_response(
                None,
                response_code,
                detail,
                path=instance,
                request_id=request_id,
                headers=extra,
                errors=errors,
            )
            await send_wrapper_holder[0](  # goes through the header stamping below
                {"type": "http.response.start", "status": response.status_code,
                 "headers": response.raw_headers}
            )  # fmt: skip
            await send({"type": "http.response.body", "body": response.body})

        status_holder = [0]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                raw = list(message.get("headers", []))
                raw.append((b"x-request-id", request_id.encode()))
                for k, v in versioning.headers_for(state["version"]).items():
                    raw.append((k.lower().encode(), v.encode()))
                message = {**message, "headers": raw}
            await send(message)

        send_wrapper_holder = [send_wrapper]

        if bad_request_id:
            # Answered by the endpoint wrapper once the route is known (so an unknown method still
            # gets its 405); the response carries a generated id instead.
            state["bad_request_id"] = True
        requested = headers.get(b"steller-version")
        if requested is not None:
            name = requested.decode("latin-1").strip()
            if versioning.lookup(name) is None:
                state["unknown_version"] = name
            else:
                state["version"] = name
                state["requested_version"] = name

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await reply(
                "payload_too_large", f"Request bodies are limited to {self.max_body} bytes", {}
            )
            if self.observer is not None:
                self.observer(scope, status_holder[0] or 413, time.perf_counter() - started)
            return

        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # Raised inside the handler's body read: the endpoint wrapper turns it into
                    # the problem response like any other.
                    raise ProblemError(
                        "payload_too_large", f"Request bodies are limited to {self.max_body} bytes"
                    )
            return message

        context_token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, capped_receive, send_wrapper)
        except ProblemError:
            if status_holder[0] == 0:
                await reply(
                    "payload_too_large", f"Request bodies are limited to {self.max_body} bytes", {}
                )
        finally:
            REQUEST_ID.reset(context_token)
            if self.observer is not None:
                self.observer(scope, status_holder[0] or 500, time.perf_counter() - started)
            if self.on_request_done is not None and "partner_id" in state:
                self.on_request_done(
                    {
                        "request_id": request_id,
                        "partner_id": state["partner_id"],
                        "key_id": state.get("key_id"),
                        "method": scope["method"],
                        "path": path,
                        "status": status_holder[0] or 500,
                        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                )
