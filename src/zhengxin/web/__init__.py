"""The portal: server-rendered pages under /portal/ for every role, calling the same service
functions as the API. Each role's pages are a module here with its own router."""

from __future__ import annotations

import ipaddress
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
        PortalOnly,
        middleware=SessionMiddleware,
        secret_key=session_secret(runtime),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path="/portal",
        same_site="strict",
        https_only=runtime.settings.portal_secure_cookie is True,
    )
    if runtime.settings.portal_secure_cookie is None:  # outside the session middleware, to see its cookie
        app.add_middleware(PortalOnly, middleware=SecureUnlessLoopback, cookie=SESSION_COOKIE)
    app.mount("/portal/static", StaticFiles(directory=Path(__file__).parent / "static"), name="portal-static")
    app.include_router(router)
    for name in ROLE_MODULES:
        app.include_router(import_module(f"zhengxin.web.{name}").router)


class PortalOnly:
    """Runs `middleware` on the portal's requests only: the API keeps no session and sets no
    cookie, so its requests skip reading one and signing none (on every API call's path)."""

    def __init__(self, app, middleware, **options):
        self.app = app
        self.portal = middleware(app, **options)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/portal"):
            return await self.portal(scope, receive, send)
        return await self.app(scope, receive, send)


class SecureUnlessLoopback:
    """Marks the session cookie `Secure` unless the page was asked for over plain HTTP by a
    loopback name (the embedded demo on 127.0.0.1): anywhere else a session must not travel
    in the clear. A plain ASGI wrapper, since the flag depends on each request."""

    def __init__(self, app, cookie: str):
        self.app = app
        self.prefix = cookie.encode() + b"="

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _plain_loopback(scope):
            return await self.app(scope, receive, send)

        async def send_secure(message):
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, v + b"; secure" if k == b"set-cookie" and v.startswith(self.prefix) and b"secure" not in
                     v.lower() else v)
                    for k, v in message.get("headers", [])
                ]  # fmt: skip
            await send(message)

        await self.app(scope, receive, send_secure)


def _plain_loopback(scope) -> bool:
    if scope.get("scheme") != "http":
        return False
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
