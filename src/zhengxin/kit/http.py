"""Problems over HTTP: the problem+json response, and the app's handlers that turn every error
(ours, FastAPI's validation errors, Starlette's HTTP errors, an unavailable database, anything
unexpected) into one."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhengxin.kit.db import unavailable, unavailable_error_types
from zhengxin.kit.errors import PROBLEM_JSON, Problem

log = logging.getLogger("zhengxin")


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        problem.body(request.url.path if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # Field locations and messages only: input values may hold personal data.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return problem_response(
            Problem(422, "invalid_request", "The request does not match the schema", errors=errors), request
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        response = problem_response(Problem(exc.status_code, code, str(exc.detail)), request)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:  # Starlette names the first route's methods; every route of the path counts
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    async def _database(request: Request, exc: Exception):
        answer = unavailable(exc)
        if answer is None:
            return await _unexpected(request, exc)
        status, code, detail = answer
        log.warning("%s on %s %s", code, request.method, request.scope.get("route", request.url).path)
        response = problem_response(Problem(status, code, detail), request)
        if status == 503:
            response.headers["Retry-After"] = "2" if code == "database_busy" else "10"
        return response

    for error_type in unavailable_error_types():
        app.add_exception_handler(error_type, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "internal_error", "An internal error occurred"), request)


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the path as the OpenAPI document lists it: a literal path
    (/v1/authorizations/keys) is its own resource, not an instance of a templated one."""
    path = request.url.path
    matching = [
        route for route in flat_routes(request.app.routes)
        if getattr(route, "path_regex", None) is not None and getattr(route, "methods", None)
        and route.path_regex.match(path)
    ]  # fmt: skip
    literal = [route for route in matching if route.path == path]
    return sorted({method for route in literal or matching for method in route.methods})


def flat_routes(routes):
    """Every route, including those of the routers FastAPI keeps wrapped."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner is not None:
            yield from flat_routes(inner)
        else:
            yield route
