"""The ASGI app: ``uvicorn fastapi_sqlmodel_app.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from sqlmodel import text

from fastapi_sqlmodel_app import __version__
from fastapi_sqlmodel_app.api.deps import SessionDep
from fastapi_sqlmodel_app.api.errors import install_error_handlers
from fastapi_sqlmodel_app.api.main import api_router
from fastapi_sqlmodel_app.core.config import settings
from fastapi_sqlmodel_app.core.db import init_db
from fastapi_sqlmodel_app.models import Health


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_db()
    yield


app = FastAPI(
    title=settings.PROJECT_NAME,
    version=__version__,
    openapi_url=f"{settings.API_V1_STR}/openapi.json",
    lifespan=lifespan,
)

if settings.BACKEND_CORS_ORIGINS:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.BACKEND_CORS_ORIGINS,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )


@app.middleware("http")
async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


install_error_handlers(app)
app.include_router(api_router, prefix=settings.API_V1_STR)


@app.get("/health", tags=["utils"])
def health_check(session: SessionDep) -> Health:
    """Liveness and database check, without authentication."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return Health(status="ok")
