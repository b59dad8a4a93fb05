"""The FastAPI application factory: each feature's router, /healthz, /metrics and offline /docs."""

from __future__ import annotations

import gc
import logging
import threading
import time
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from zhengxin import __version__, background
from zhengxin.alerts import routes as alerts_routes
from zhengxin.analytics.routes import router as analytics_router
from zhengxin.audit.metrics import LogCollector
from zhengxin.audit.routes import me_router as receipts_router
from zhengxin.audit.routes import router as log_router
from zhengxin.billing.routes import router as billing_router
from zhengxin.complaints import routes as complaints_routes
from zhengxin.config import Settings
from zhengxin.consent import service as consent
from zhengxin.consent.routes import me_router as withdrawals_router
from zhengxin.consent.routes import router as consent_router
from zhengxin.decisions.service import STAFF_READ_PURPOSES
from zhengxin.disputes import routes as disputes_routes
from zhengxin.dry_run import router as policy_router
from zhengxin.federation.routes import router as federation_router
from zhengxin.furnishing.routes import router as furnishing_router
from zhengxin.inquiries.routes import router as inquiries_router
from zhengxin.kit import openapi, spool
from zhengxin.kit.errors import Problem
from zhengxin.kit.http import install_handlers, problem_response
from zhengxin.kit.metrics import LATENCY, REQUESTS
from zhengxin.kit.ratelimit import RateLimit
from zhengxin.notifications.routes import router as notifications_router
from zhengxin.parties.auth import require
from zhengxin.parties.keycache import key_cache
from zhengxin.parties.routes import router as parties_router
from zhengxin.reports.scoring import routes as scoring_routes
from zhengxin.rights.routes import counter as counter_router
from zhengxin.rights.routes import router as rights_router
from zhengxin.runtime import Runtime
from zhengxin.supervision.routes import router as supervision_router
from zhengxin.transfers.routes import router as transfers_router
from zhengxin.web import mount_portal

# Every API router, in the order the OpenAPI document lists them.
API_ROUTERS = (
    parties_router, furnishing_router, consent_router, withdrawals_router, inquiries_router, billing_router,
    policy_router, log_router, receipts_router, rights_router, counter_router, scoring_routes.router,
    scoring_routes.me_router, disputes_routes.me_router, disputes_routes.furnisher_router, disputes_routes.desk_router,
    disputes_routes.notices_router, notifications_router, complaints_routes.me_router, complaints_routes.router,
    analytics_router, transfers_router, supervision_router, alerts_routes.mine, alerts_routes.agency,
    federation_router,
)  # fmt: skip


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings or Settings())
    runtime.catalog  # noqa: B018 - load and validate the catalog at start, not on first use
    runtime.policy  # noqa: B018 - and the policies
    spool.sweep(runtime.settings.spool_dir)  # what a crashed server left in its spool
    log_metrics = CollectorRegistry()
    log_metrics.register(LogCollector(runtime))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        keeper = None
        if runtime.settings.log_schedule:  # the background worker's jobs, in this process
            keeper = threading.Thread(target=background.keep, args=(runtime, stop), name="background", daemon=True)
            keeper.start()
        # What is loaded by now (modules, catalog, policies) lives as long as the server: out of
        # the collector's sight, a full collection no longer walks it between requests.
        gc.freeze()
        yield
        if (cache := key_cache(runtime)) is not None:
            await cache.close()
        stop.set()
        if keeper is not None:
            keeper.join(timeout=10)

    app = FastAPI(
        lifespan=lifespan,
        title="zhengxin",
        version=__version__,
        description="A supervised personal-credit data exchange. Authenticate with `Authorization: Bearer <api key>`.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_handlers(app)
    names = {"staff_purposes": list(STAFF_READ_PURPOSES), "authorization_scopes": [consent.FEDERATION_SCOPE]}
    openapi.install(app, names=runtime.catalog.names() | names)
    for router in API_ROUTERS:
        app.include_router(router)

    mount_portal(app, runtime)

    _add_operations(app, runtime, log_metrics)

    app.add_middleware(BodyLimit, settings=runtime.settings)
    app.add_middleware(RateLimit, settings=runtime.settings)
    app.add_middleware(RequestMetrics, access_log=runtime.settings.access_log)
    return app


def _add_operations(app: FastAPI, runtime: Runtime, log_metrics: CollectorRegistry) -> None:
    """The routes beside the API: the docs (served from the package, no CDN), liveness, metrics."""
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="zhengxin API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict:
        """Liveness and database reachability."""
        with runtime.reading() as conn:
            conn.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "version": __version__,
            "database": runtime.engine.dialect.name,
            "catalog_version": runtime.catalog.version,
        }

    # Request counts by route, inquiry outcomes and witness names are the agency's and the
    # regulator's business, not the public's (issue 15, finding 12).
    @app.get("/metrics", tags=["operations"], include_in_schema=False,
             dependencies=[require("agency", "regulator")])  # fmt: skip
    def metrics() -> Response:
        return Response(generate_latest() + generate_latest(log_metrics), media_type=CONTENT_TYPE_LATEST)


access = logging.getLogger("zhengxin.access")


UPLOADS = {
    ("POST", "/v1/furnishing/batches"), ("POST", "/portal/furnisher/batches"),
    # The PSI run's elements: 32 bytes a person, a member's whole set in one body.
    ("POST", "/v1/federation/psi/exchange"), ("POST", "/v1/federation/psi/submissions"),
}  # fmt: skip


class BodyLimit:
    """Caps request bodies: an upload at `max_batch_bytes`, anything else at `max_body_bytes`.
    A declared Content-Length over the cap is refused before a byte is read; a body that
    streams past it (chunked, or lying about its length) is cut off where it crosses. Either
    way the answer is 413 problem+json."""

    def __init__(self, app, settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        framing = [(k, v) for k, v in scope["headers"] if k in (b"content-length", b"transfer-encoding")]
        if not framing:  # HTTP/1.1: a request with neither header has no body (most GETs)
            return await self.app(scope, receive, send)
        upload = (scope["method"], scope["path"]) in UPLOADS
        cap = self.settings.max_batch_bytes if upload else self.settings.max_body_bytes
        code = "batch_too_large" if upload else "body_too_large"
        too_large = Problem(413, code, f"the request body may be at most {cap} bytes")
        declared = next((v for k, v in framing if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > cap:
            response = problem_response(too_large)
            response.headers["Connection"] = "close"
            return await response(scope, receive, send)
        seen, answered = 0, False

        async def counted():
            # Past the cap, answer 413 here and tell the app the client is gone: whatever
            # it answers to that is dropped (FastAPI would turn an error here into a 400).
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    if not answered:
                        answered = True
                        await problem_response(too_large)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_answered(message):
            if not answered:
                await send(message)

        await self.app(scope, counted, send_unless_answered)


class RequestMetrics:
    """Counts and times requests by route, writes the access log line, and marks every API
    answer `Cache-Control: no-store` (a plain ASGI middleware: Starlette's BaseHTTPMiddleware
    would halve the throughput of small requests).

    The access log is ours, not uvicorn's: it names the route's template
    (`/v1/disputes/{dispute_id}`), never the raw path or the query string, so nothing a client
    put in a URL (a resident ID, say) can reach a log line."""

    def __init__(self, app, access_log: bool = True):
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]
        api = scope["path"].startswith("/v1/")

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if api:  # answers about people (reports, exports, disputes) must sit in no cache
                    message.setdefault("headers", []).append((b"cache-control", b"no-store"))
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], path, str(status[0])).inc()
            LATENCY.labels(scope["method"], path).observe(elapsed)
            if self.access_log:
                actor = scope.get("state", {}).get("actor")
                access.info("%s %s %d %.1fms %s", scope["method"], path, status[0], elapsed * 1000,
                            f"{actor.role}:{actor.party_id}" if actor else "-")  # fmt: skip


def serve_app() -> FastAPI:
    """The app for a server process (`uvicorn --factory`, one per worker): settings from the
    environment and, for an embedded deployment, ZHENGXIN_DATA_DIR's secrets.env."""
    from zhengxin.config import load_settings

    return create_app(runtime=Runtime(load_settings()))
