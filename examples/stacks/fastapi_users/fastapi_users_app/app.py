"""The ASGI application: fastapi-users routers, the task tracker's routers, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import create_db_and_tables, engine
from .errors import (
    ResourceNotFound,
    document_common_errors,
    method_not_allowed_handler,
    resource_not_found_handler,
    validation_error_handler,
)
from .routers import labels, projects, tasks
from .routers.common import Session
from .schemas import Health, UserCreate, UserRead, UserUpdate
from .seed import seed
from .users import auth_backend, fastapi_users

logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await create_db_and_tables()
    if await seed():
        logger.info("seeded the database")
    yield
    await engine.dispose()


class SecurityHeaders:
    """Headers every answer carries (plain ASGI middleware: no BaseHTTPMiddleware buffering)."""

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


app = FastAPI(title="Task tracker (fastapi-users)", version="1.0.0", lifespan=lifespan)
app.add_middleware(SecurityHeaders)
app.add_exception_handler(ResourceNotFound, resource_not_found_handler)
app.add_exception_handler(405, method_not_allowed_handler)
app.add_exception_handler(RequestValidationError, validation_error_handler)

app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
app.include_router(projects.router)
app.include_router(tasks.router)
app.include_router(labels.router)


def openapi() -> dict:
    if app.openapi_schema is None:
        app.openapi_schema = document_common_errors(get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description))
    return app.openapi_schema


app.openapi = openapi  # type: ignore[method-assign]


@app.get("/health", response_model=Health, tags=["health"])
async def health(session: Session) -> Health:
    await session.execute(text("SELECT 1"))
    return Health(status="ok")
