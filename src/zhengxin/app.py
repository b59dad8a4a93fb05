"""The FastAPI application factory: each feature's router, /healthz, /metrics and offline /docs."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from zhengxin import __version__
from zhengxin.audit.metrics import LogCollector
from zhengxin.audit.routes import me_router as receipts_router
from zhengxin.audit.routes import router as log_router
from zhengxin.billing.routes import router as billing_router
from zhengxin.config import Settings
from zhengxin.consent.routes import router as consent_router
from zhengxin.decisions.routes import router as policy_router
from zhengxin.furnishing.routes import router as furnishing_router
from zhengxin.inquiries.routes import router as inquiries_router
from zhengxin.kit.errors import install_handlers
from zhengxin.kit.metrics import LATENCY, REQUESTS
from zhengxin.parties.routes import router as parties_router
from zhengxin.runtime import Runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings or Settings())
    runtime.catalog  # noqa: B018 - load and validate the catalog at start, not on first use
    runtime.policy  # noqa: B018 - and the policies
    log_metrics = CollectorRegistry()
    log_metrics.register(LogCollector(runtime))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        task = asyncio.create_task(_run_log_schedule(runtime))
        yield
        task.cancel()

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
    app.include_router(parties_router)
    app.include_router(furnishing_router)
    app.include_router(consent_router)
    app.include_router(inquiries_router)
    app.include_router(billing_router)
    app.include_router(policy_router)
    app.include_router(log_router)
    app.include_router(receipts_router)

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
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "version": __version__,
            "database": runtime.engine.dialect.name,
            "catalog_version": runtime.catalog.version,
        }

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest() + generate_latest(log_metrics), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    return app


async def _run_log_schedule(runtime: Runtime) -> None:
    """Sequence queued log events every `log_sequence_interval_seconds` and sign a tree head
    every `log_sth_interval_seconds` (a no-op when the tree has not grown)."""
    from zhengxin.audit.service import sequence_all, sign_head

    def sign() -> None:
        with runtime.transaction() as conn:
            sign_head(conn, runtime.log_signer)

    settings = runtime.settings
    next_head = time.monotonic() + settings.log_sth_interval_seconds
    while True:
        await asyncio.sleep(min(settings.log_sequence_interval_seconds, settings.log_sth_interval_seconds))
        try:
            await run_in_threadpool(sequence_all, runtime.engine)
            if time.monotonic() >= next_head:
                await run_in_threadpool(sign)
                next_head = time.monotonic() + settings.log_sth_interval_seconds
        except Exception:  # keep the schedule alive; the failure is in the log
            logging.getLogger("zhengxin").exception("sequencing or signing the log failed")
