"""Shared by authz_buggy.py and authz_fixed.py: notes owned by the user who wrote them, a team
directory anyone signed in may add to and read, the models and the documented answers."""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "not signed in"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such resource (or not yours)"}}
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "admins only"}}
# FastAPI answers 400 (not 422) to a body it cannot even decode.
BAD_BODY: dict[int | str, dict[str, Any]] = {400: {"description": "the body is not JSON"}}
USER_ID = r"^[0-9a-f]{32}$"


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(default="", max_length=2000)


class NotePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=100)
    body: str | None = Field(default=None, max_length=2000)


class Note(BaseModel):
    id: int
    title: str
    body: str
    owner: str


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)


class User(BaseModel):
    id: str
    name: str
    added_by: str


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.notes: dict[int, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._next = 1

    def add_note(self, owner: str, note: NoteIn) -> dict[str, Any]:
        with self.lock:
            record = {"id": self._next, "title": note.title, "body": note.body, "owner": owner}
            self.notes[self._next] = record
            self._next += 1
            return record

    def own_note(self, note_id: int, user: str) -> dict[str, Any] | None:
        note = self.notes.get(note_id)
        return note if note is not None and note["owner"] == user else None

    def add_user(self, added_by: str, user: UserIn) -> dict[str, Any]:
        record = {"id": uuid.uuid4().hex, "name": user.name, "added_by": added_by}
        with self.lock:
            self.users[record["id"]] = record
        return record


def complete_allow_headers(app: FastAPI) -> None:
    """A 405's Allow lists every documented method of the path (FastAPI's names one route's only;
    see examples/contract/_allow_header.py)."""

    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            methods = {method.upper() for template, item in request.app.openapi()["paths"].items()
                       if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), request.url.path)
                       for method in item}
            if "GET" in methods:
                methods.add("HEAD")
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
        return await http_exception_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, handler)  # type: ignore[arg-type]
