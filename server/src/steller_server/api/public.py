"""Public endpoints: liveness, readiness and the contract itself."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

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


_STATIC = resources.files("steller_server") / "static"
_DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Steller API reference</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.yaml" hide-hostname="false" expand-responses="200,201,202"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
"""


async def docs_page(request: Request) -> Response:
    """The interactive API reference, rendered by Redoc from /openapi.yaml (assets served here)."""
    return HTMLResponse(_DOCS_HTML)


async def docs_asset(request: Request) -> Response:
    data = (_STATIC / "redoc.standalone.js").read_bytes()
    return Response(
        data,
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
