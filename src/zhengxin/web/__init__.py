"""The portal: server-rendered pages under /portal/ for every role, calling the same service
functions as the API. Each role's pages are a module here with its own router."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from zhengxin.runtime import Runtime

ROLE_MODULES = ("individual", "lender", "furnisher", "regulator", "overseer", "agency")


def mount_portal(app: FastAPI, runtime: Runtime) -> None:
    from zhengxin.web.core import SESSION_COOKIE, SESSION_MAX_AGE, session_secret
    from zhengxin.web.routes import router

    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(runtime),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path="/portal",
        same_site="strict",
        https_only=runtime.settings.portal_secure_cookie,
    )
    app.mount("/portal/static", StaticFiles(directory=Path(__file__).parent / "static"), name="portal-static")
    app.include_router(router)
    for name in ROLE_MODULES:
        app.include_router(import_module(f"zhengxin.web.{name}").router)
