"""Users & notes service (FastAPI + SQLite) -- the FIXED twin of ``users_fastapi_buggy.py``.

Serve it with ``uvicorn users_fastapi_fixed:app --app-dir examples/security``;
the schema is at ``/openapi.json``. Each fix of a defect seeded in the buggy
twin is marked ``# FIX: <rule-id>:`` below.
"""

import html  # FIX: xss-reflected: to escape q
import logging
import os
import sqlite3
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse

try:  # imported as part of a package (examples.security.users_fastapi_fixed)
    from . import _users_db as db
except ImportError:  # imported from this directory (uvicorn --app-dir examples/security)
    import _users_db as db  # type: ignore[no-redef]

log = logging.getLogger("notes-api")
DEBUG = os.environ.get("NOTES_DEBUG", "0") == "1"  # FIX: leak-traceback: debug output only when switched on (locally)

router = APIRouter()


def get_store(request: Request) -> db.UserStore:
    return request.app.state.store


Store = Annotated[db.UserStore, Depends(get_store)]
Credentials = Annotated[db.LoginIn, Depends(db.login_credentials)]


@router.get("/health", response_model=db.Health, tags=["meta"])
def health(store: Store) -> dict[str, str]:
    store.ping()
    return {"status": "ok"}


@router.post(
    "/users",
    response_model=db.User,
    status_code=status.HTTP_201_CREATED,
    responses={**db.CREATED, **db.BAD_BODY, 409: {"model": db.Error, "description": "The username is taken"}},
    tags=["users"],
)
def signup(body: db.SignupIn, store: Store, response: Response) -> Any:
    try:
        user = store.add_user(body.username, body.password)
    except db.UsernameTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, f"username {body.username!r} is taken") from None
    response.headers["Location"] = f"/users/{user['id']}"
    return user


@router.get(
    "/users/{user_id}",
    response_model=db.User,  # FIX: sensitive-field: the public profile; password_hash never leaves the store
    responses=db.NOT_FOUND,
    tags=["users"],
)
def get_user(user_id: Annotated[int, Path(ge=1, le=db.MAX_ID, description="User id")], store: Store) -> Any:
    user = store.get_user(user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} not found")
    return user


@router.post(
    "/login",
    response_model=db.User,
    responses={
        **db.LOGGED_IN,
        **db.BAD_BODY,
        401: {"model": db.Error, "description": "Wrong username or password"},
        415: {"model": db.Error, "description": "Neither JSON nor an HTML form"},
        422: {"model": db.ValidationErrors, "description": "Validation Error"},
        429: {"model": db.Error, "description": "Too many attempts for this username"},  # FIX: rate-limit
    },
    openapi_extra={"requestBody": db.LOGIN_BODY},
    tags=["auth"],
)
def login(credentials: Credentials, store: Store, request: Request, response: Response) -> Any:
    """Log in with a JSON or an HTML-form body; the session is a ``session`` cookie."""
    # FIX: rate-limit: 5 attempts per username per minute, then 429 with Retry-After
    if (retry_after := request.app.state.login_attempts.hit(credentials.username)) is not None:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many attempts", {"Retry-After": str(retry_after)})
    user = store.find_user(credentials.username)
    # FIX: leak-traceback: an unknown username is a 401, like a wrong password
    if user is None or not db.verify_password(credentials.password, user["password_hash"]):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    token = store.new_session(user["id"])
    # FIX: cookie-flags: HTTPS only, out of reach of scripts, not sent on cross-site requests
    response.set_cookie("session", token, max_age=db.SESSION_TTL, secure=True, httponly=True, samesite="lax")
    return user


@router.get(
    "/notes/search",
    response_class=HTMLResponse,
    responses={400: {"model": db.Error, "description": "The search could not be run"}},
    tags=["notes"],
)
def search_notes(
    store: Store,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Text to look for", examples=["release"])],
) -> Response:
    """An HTML page listing the notes whose title or body contains ``q``."""
    try:
        # FIX: sqli-error: q is a bound parameter, never SQL
        rows = store.query(db.NOTE_SEARCH + " WHERE n.title LIKE ? OR n.body LIKE ?" + db.NOTE_ORDER, (f"%{q}%",) * 2)
    except sqlite3.Error:
        # FIX: leak-sql-error: the details go to the log, the client gets a generic message
        log.exception("note search failed for q=%r", q)
        return JSONResponse(status_code=400, content={"detail": "search failed"})
    # FIX: xss-reflected: q is escaped like every other user-supplied text on the page
    page = db.SEARCH_PAGE.format(query=html.escape(q), count=len(rows), items=db.note_items(rows))
    return HTMLResponse(page)


async def unhandled_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"detail": "Internal Server Error"}
    if DEBUG:
        body["traceback"] = traceback.format_exc()
    return JSONResponse(status_code=500, content=body)


async def service_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers["X-Request-Id"] = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    # FIX: server-banner: no product/version banner
    # FIX: header-missing: browsers must not sniff a JSON or text response into HTML or script
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def create_app(db_path: str = ":memory:") -> FastAPI:
    """A new app with its own (by default private, in-memory) database."""
    store = db.UserStore(db_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="Notes (fixed)", version=db.__version__, lifespan=lifespan)
    app.state.store = store
    app.state.login_attempts = db.AttemptLimiter(db.LOGIN_ATTEMPTS, db.LOGIN_WINDOW)  # FIX: rate-limit
    app.include_router(router)
    db.install_error_plumbing(app)
    app.add_exception_handler(Exception, unhandled_error)
    app.middleware("http")(service_headers)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=db.FRONTEND_ORIGINS,  # FIX: cors: only our own frontend may send credentialed requests
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    return app


app = create_app()
