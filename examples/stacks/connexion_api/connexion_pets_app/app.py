"""The ASGI application: `uvicorn connexion_pets_app.app:app` (Connexion 3 FlaskApp)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import connexion
from connexion.middleware import MiddlewarePosition
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import settings
from .db import db_session, init_db
from .errors import AllowedMethods, ResourceNotFound, bad_body_encoding_handler, not_found_handler

SPEC = Path(__file__).parent / "openapi.yaml"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SecurityHeadersMiddleware:
    """Headers for every answer, problem+json answers of Connexion's own middleware included
    (Flask's after_request never sees those)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app() -> connexion.FlaskApp:
    init_db()
    app = connexion.FlaskApp(__name__, specification_dir=SPEC.parent)
    app.add_api(
        SPEC.name,
        arguments={"defects": settings.defects},  # the spec is a Jinja2 template (see PetUpdate)
        strict_validation=True,  # unknown query parameters are a 400, not silently ignored
        validate_responses=settings.debug,
    )
    app.add_error_handler(ResourceNotFound, not_found_handler)
    app.add_error_handler(404, not_found_handler)
    app.add_error_handler(405, AllowedMethods(SPEC, base_path="/api").handler)
    app.add_error_handler(UnicodeDecodeError, bad_body_encoding_handler)
    app.add_middleware(SecurityHeadersMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)

    @app.app.teardown_appcontext
    def remove_session(_exc: Any) -> None:
        db_session.remove()

    return app


app = create_app()
