"""Complete ``Allow`` headers on 405 responses.

FastAPI registers one route per decorator, so ``GET /items`` and ``POST /items``
are two routes, and Starlette's 405 lists only the methods of the first route
whose path matched: ``PUT /items`` answered ``Allow: GET`` although ``POST`` is
supported too (and ``POST /items/1`` answered ``Allow: GET``, leaving out ``PUT`` and
``DELETE``). RFC 9110 wants ``Allow`` to list every method the resource
supports. This handler rebuilds the header from the app's own OpenAPI document
(public API, stable across FastAPI releases, unlike the router internals).
"""

import re

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path

_OPENAPI_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

AllowTable = list[tuple[re.Pattern[str], frozenset[str]]]


def allow_table(app: FastAPI) -> AllowTable:
    """``(path regex, methods)`` for every path of the app's OpenAPI document, built once per app."""
    table: AllowTable | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = []
        for template, operations in app.openapi().get("paths", {}).items():
            # No implicit HEAD: unlike Starlette's Route, FastAPI's APIRoute answers HEAD with 405.
            methods = frozenset(method.upper() for method in operations if method in _OPENAPI_METHODS)
            table.append((compile_path(template)[0], methods))
        app.state.allow_table = table
    return table


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Every method documented for the paths that ``path`` matches."""
    return {method for pattern, methods in allow_table(app) if pattern.match(path) for method in methods}


async def method_not_allowed(request: Request, exc: HTTPException) -> Response:
    methods = allowed_methods(request.app, request.url.path)
    if methods:
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
    return await http_exception_handler(request, exc)


def complete_allow_headers(app: FastAPI) -> None:
    """Answer every 405 of ``app`` with the full list of the resource's methods in ``Allow``."""
    app.add_exception_handler(405, method_not_allowed)  # type: ignore[arg-type]
