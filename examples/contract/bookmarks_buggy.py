"""Bookmarks service (FastAPI + SQLite) -- the BUGGY twin, with three seeded defects.

Serve it with ``uvicorn bookmarks_buggy:app --app-dir examples/contract``; the
schema is at ``/openapi.json``. ``bookmarks_fixed.py`` is the same service with
the defects fixed; each defect is marked ``# DEFECT:`` below.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

try:  # imported as part of a package (examples.contract.bookmarks_buggy)
    from . import _bookmarks_db as db
    from ._allow_header import complete_allow_headers
except ImportError:  # imported from this directory (uvicorn --app-dir examples/contract)
    import _bookmarks_db as db  # type: ignore[no-redef]
    from _allow_header import complete_allow_headers  # type: ignore[no-redef]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": db.Error, "description": "No bookmark with this id"}}
# FastAPI answers 400 (not 422) when the body is not even text, e.g. invalid UTF-8.
BAD_BODY: dict[int | str, dict[str, Any]] = {400: {"model": db.Error, "description": "Body could not be parsed"}}
BookmarkId = Annotated[int, Path(ge=1, le=db.MAX_ID, description="Bookmark id")]

router = APIRouter(tags=["bookmarks"])


def get_store(request: Request) -> db.BookmarkStore:
    return request.app.state.store


Store = Annotated[db.BookmarkStore, Depends(get_store)]


@router.get("/health", response_model=db.Health, tags=["meta"])
def health(store: Store) -> dict[str, str]:
    store.ping()
    return {"status": "ok"}


@router.post(
    "/bookmarks",
    response_model=db.Bookmark,
    status_code=status.HTTP_201_CREATED,
    responses=BAD_BODY,  # DEFECT: the 409 returned below for a duplicate URL is not declared
)
def create_bookmark(bookmark: db.BookmarkIn, store: Store, response: Response) -> Any:
    try:
        row = store.add(bookmark.url, bookmark.title, bookmark.tags)
    except db.DuplicateUrl as exc:
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content={"detail": f"already bookmarked as {exc.existing_id}"},
        )
    response.headers["Location"] = f"/bookmarks/{row['id']}"
    return db.to_api(row)


@router.get("/bookmarks", response_model=db.BookmarkPage)
def list_bookmarks(
    store: Store,
    tag: Annotated[db.Tag | None, Query(description="Only bookmarks with this tag")] = None,
    limit: Annotated[int, Query(ge=0, le=100, description="Page size; 0 returns only the total")] = 20,
    offset: Annotated[int, Query(ge=0, le=db.MAX_OFFSET, description="Bookmarks to skip")] = 0,
) -> dict[str, Any]:
    rows, total = store.search(tag, limit, offset)
    pages = (total + limit - 1) // limit  # DEFECT: ZeroDivisionError (500) for the documented limit=0
    return {"items": [db.to_api(r) for r in rows], "total": total, "limit": limit, "offset": offset, "pages": pages}


@router.get("/bookmarks/{bookmark_id}", response_model=db.Bookmark, responses=NOT_FOUND)
def get_bookmark(bookmark_id: BookmarkId, store: Store) -> Any:
    row = store.get(bookmark_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bookmark {bookmark_id} not found")
    # JSONResponse (used to set Cache-Control) bypasses response_model: nothing checks what is sent.
    # DEFECT: the raw row goes out -- created_at is an epoch int, tags a "a,b" string or null
    return JSONResponse(content=row, headers={"Cache-Control": "private, max-age=60"})


@router.delete(
    "/bookmarks/{bookmark_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
)
def delete_bookmark(bookmark_id: BookmarkId, store: Store) -> None:
    if not store.delete(bookmark_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"bookmark {bookmark_id} not found")


def create_app(db_path: str = ":memory:") -> FastAPI:
    """A new app with its own (by default private, in-memory) database."""
    store = db.BookmarkStore(db_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="Bookmarks (buggy)", version="1.0.0", lifespan=lifespan)
    app.state.store = store
    app.include_router(router)
    complete_allow_headers(app)
    return app


app = create_app()
