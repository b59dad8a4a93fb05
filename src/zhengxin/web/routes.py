"""Signing in and out, the language switch, and the landing page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from zhengxin.identity.resident_id import normalise
from zhengxin.identity.tokens import person_token
from zhengxin.kit.i18n import gettext_for
from zhengxin.parties.service import authenticate, end_session, key_id_of, open_session
from zhengxin.runtime import RuntimeDep
from zhengxin.web.core import (
    HOME,
    LOCALES,
    SESSION_MAX_AGE,
    CsrfChecked,
    PortalRoute,
    PortalUser,
    flash,
    redirect,
    render,
)

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)


def _safe_next(target: str | None, default: str) -> str:
    """Only a portal path: `next` must never send a signed-in person to another site."""
    if target and target.startswith("/portal/") and not target.startswith("//"):
        return target
    return default


@router.get("/")
def landing(request: Request):
    if request.session.get("key_id"):
        return redirect("/portal/home")
    return redirect("/portal/signin")


@router.get("/home")
def home(request: Request, actor: PortalUser):
    return redirect(HOME[actor.role])


@router.get("/signin")
def signin_page(request: Request, next: str | None = None):
    return render(request, "signin.html", next=_safe_next(next, ""), error=None)


@router.post("/signin", dependencies=[CsrfChecked])
def signin(
    request: Request,
    runtime: RuntimeDep,
    api_key: Annotated[str, Form()],
    person_id: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
):
    """An organisation signs in with its API key; an individual with their resident ID and key."""
    _ = gettext_for(request.session.get("lang", LOCALES[0]))
    with runtime.reading() as conn:
        actor = authenticate(conn, api_key.strip())
    error = None
    if actor is None:
        error = _("The key is unknown or revoked.")
    elif actor.role == "individual" and person_token(runtime.pepper, normalise(person_id)) != actor.person_token:
        error = _("An individual signs in with their resident ID and key; they do not match.")
    if error:
        return render(request, "signin.html", status_code=401, next=next, error=error)
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) at every sign-in
    key_id = request.session["key_id"] = key_id_of(api_key.strip())  # public: the agency page marks its own key
    with runtime.transaction() as conn:
        request.session["sid"] = open_session(conn, key_id, SESSION_MAX_AGE / 3600)
    if lang:
        request.session["lang"] = lang
    flash(request, _("Signed in as {name}.").format(name=actor.name))
    return redirect(_safe_next(next, HOME[actor.role]))


@router.post("/signout", dependencies=[CsrfChecked])
def signout(request: Request, runtime: RuntimeDep):
    """Ends the session on the server: a copy of the cookie kept from before opens nothing."""
    lang = request.session.get("lang")
    if request.session.get("sid"):
        with runtime.transaction() as conn:
            end_session(conn, request.session["sid"])
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return redirect("/portal/signin")


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str | None = None):
    """Switching language changes only how pages read, so a plain link does it."""
    if code in LOCALES:
        request.session["lang"] = code
    return redirect(_safe_next(next, "/portal/"))
