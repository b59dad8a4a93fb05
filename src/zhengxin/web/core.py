"""What every portal page shares: the signed session, the CSRF check, role gates and rendering.

The session cookie (Starlette's SessionMiddleware: itsdangerous-signed, HttpOnly,
SameSite=Strict, path /portal, Secure unless the page is plain HTTP on loopback) holds the id
of a session the server keeps (parties.portal_sessions), never the key: each request looks the
session and its key up again, so signing out, expiry (SESSION_MAX_AGE, on the server) and
revoking the key each end it at once, for every copy of the cookie.

CSRF: a random token kept in the session goes into every form (and HTMX's header); every
POST must echo it. Written by hand: the one check is a constant-time compare of two strings.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import LOCALES, gettext_for
from zhengxin.parties.service import Actor, session_holder
from zhengxin.runtime import Runtime, get_runtime
from zhengxin.web.i18n import environment

# Scripts only from the portal itself. Vega compiles its expressions with Function(), hence
# 'unsafe-eval'; vega-embed and htmx add inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SESSION_COOKIE = "zx_portal"
SESSION_MAX_AGE = 8 * 3600  # a working day; then sign in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

# Which page each role lands on after signing in.
HOME = {
    "individual": "/portal/me",
    "lender": "/portal/lender",
    "furnisher": "/portal/furnisher",
    "regulator": "/portal/regulator",
    "overseer": "/portal/overseer",
    "agency": "/portal/agency",
}


def session_secret(runtime: Runtime) -> str:
    """The cookie-signing key, derived from the deployment's pepper for this one use."""
    return hmac.new(runtime.settings.pepper_bytes(), b"zhengxin portal session v1", hashlib.sha256).hexdigest()


class SignedOut(Exception):
    pass


class Refused(Exception):
    def __init__(self, roles: tuple[str, ...]):
        self.roles = roles


class CsrfFailed(Exception):
    pass


def locale_of(request: Request) -> str:
    lang = request.session.get("lang")
    return lang if lang in LOCALES else LOCALES[0]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def verify_csrf(request: Request) -> None:
    """Every state-changing portal request carries the session's CSRF token."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise CsrfFailed()


CsrfChecked = Depends(verify_csrf)


def portal_actor(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Actor:
    session_id = request.session.get("sid")
    if not session_id:
        raise SignedOut()
    with runtime.reading() as conn:
        actor = session_holder(conn, session_id)
    if actor is None:  # signed out, expired, the key revoked or the party deactivated
        request.session.clear()
        raise SignedOut()
    request.state.actor = actor
    return actor


def role(*roles: str):
    """A page for these roles only; anyone else gets the refusal page (403)."""

    def check(actor: Annotated[Actor, Depends(portal_actor)]) -> Actor:
        if actor.role not in roles:
            raise Refused(roles)
        return actor

    return Depends(check)


PortalUser = Annotated[Actor, Depends(portal_actor)]
IndividualUser = Annotated[Actor, role("individual")]
LenderUser = Annotated[Actor, role("lender")]
FurnisherUser = Annotated[Actor, role("furnisher")]
RegulatorUser = Annotated[Actor, role("regulator")]
OverseerUser = Annotated[Actor, role("overseer")]
AgencyUser = Annotated[Actor, role("agency")]


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once on the next page (after a redirect)."""
    request.session.setdefault("flash", []).append([kind, message])


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    locale = locale_of(request)
    env = environment(locale)
    actor = getattr(request.state, "actor", None)
    messages = request.session.pop("flash", []) if "flash" in request.session else []
    html = env.get_template(template).render(
        request=request,
        actor=actor,
        home=HOME.get(actor.role) if actor else None,
        csrf_token=csrf_token(request),
        csrf_field=CSRF_FIELD,
        flashes=messages,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def problem_message(request: Request, problem: Problem) -> str:
    """A refusal as the person reads it: the translated title, the detail, the code and rule."""
    _ = gettext_for(locale_of(request))
    text = f"{_(problem.title)}: {problem.detail} [{problem.code}"
    return text + (f", {problem.rule}]" if problem.rule else "]")


UPLOAD_HEADER = "X-Portal-Upload"


def redirect(url: str, request: Request | None = None) -> Response:
    """303 to the next page. portal.js sends uploads by XHR, which would follow a redirect
    itself and use up the page's flash on the way: it is given the address to go to instead."""
    if request is not None and request.headers.get(UPLOAD_HEADER):
        return JSONResponse({"location": url})
    return RedirectResponse(url, status_code=303)


def back_to(request: Request, default: str) -> str:
    """Where a form came from, if it was a portal page (never an outside address)."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url).rstrip("/")
    if referer.startswith(base + "/portal/"):
        return referer[len(base) :]
    return default


class PortalRoute(APIRoute):
    """Portal routes answer in HTML: signed out → the sign-in page, wrong role → 403 page,
    a refused request → the page of the error with its code and rule."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignedOut:
                response = redirect(f"/portal/signin?next={quote(request.url.path)}")
            except Refused as refused:
                response = render(request, "refused.html", status_code=403, roles=refused.roles)
            except CsrfFailed:
                response = render(request, "error.html", status_code=403, code="csrf_failed", message=None)
            except Problem as problem:
                response = render(
                    request,
                    "error.html",
                    status_code=problem.status,
                    code=problem.code,
                    message=problem_message(request, problem),
                )
            response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            return response

        return route
