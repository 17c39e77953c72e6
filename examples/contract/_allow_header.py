"""Complete ``Allow`` headers on FastAPI 405 responses (used by both bookmarks twins).

FastAPI registers one route per decorator, so ``@get("/bookmarks")`` and
``@post("/bookmarks")`` are two routes, and a 405 names only the methods of the
first route whose path matched: ``PUT /bookmarks`` answers ``Allow: POST`` though
the resource also supports GET. RFC 9110 says ``Allow`` lists every method the
target resource supports, and schemathesis' ``allow_header_conformance`` check
reports the difference. This handler rebuilds the header from the app's own
OpenAPI document (public API, unlike the router internals, which change between
FastAPI releases), then hands over to FastAPI's default handler.
"""

import re

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    cached = getattr(app.state, "allow_table", None)
    if cached is not None:
        return cached
    table = []
    for template, item in app.openapi().get("paths", {}).items():
        pattern = re.compile("".join(
            "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template)
        ))
        methods = {method.upper() for method in item if method in _HTTP_METHODS}
        if "GET" in methods:
            methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
        table.append((pattern, frozenset(methods)))
    app.state.allow_table = table
    return table


async def _http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 405:
        methods = set()
        for pattern, allowed in _path_methods(request.app):
            if pattern.fullmatch(request.url.path):
                methods |= allowed
        if methods:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
    return await http_exception_handler(request, exc)


def complete_allow_headers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # type: ignore[arg-type]
