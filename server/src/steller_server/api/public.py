"""Public endpoints: liveness, readiness and the contract itself."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from steller_server.api.routing import Ctx, Endpoints, Reply

endpoints = Endpoints()


@endpoints.op("getHealth", auth="public")
async def health(ctx: Ctx) -> Reply:
    return Reply(200, {"status": "ok"})


@endpoints.op("getReadiness", auth="public")
async def readiness(ctx: Ctx) -> Reply:
    database = "ok" if await ctx.state.db.ping() else "fail"
    if ctx.state.settings.redis_url:
        try:
            redis = "ok" if await ctx.state.limiter.check_ready() else "fail"
        except Exception:
            redis = "fail"
    else:
        redis = "disabled"
    ready = database == "ok" and redis != "fail"
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {"database": database, "redis": redis},
    }
    headers = {} if ready else {"Retry-After": "5"}
    return Reply(200 if ready else 503, body, headers)


async def openapi_yaml(request: Request) -> Response:
    """The contract, exactly as committed (Postman and code generators import it from here)."""
    return Response(request.app.state.steller.contract.raw, media_type="application/yaml")
