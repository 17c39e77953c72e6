"""Notes and a team directory behind OAuth2 password login -- the FIXED twin of
``authz_buggy.py``. Each fix is marked ``# FIX: <rule-id>:``."""

# No `from __future__ import annotations`: FastAPI resolves `Caller`, local to create_app, at once.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path

from _accounts import Accounts, add_account_routes
from _authz_store import (
    BAD_BODY,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    USER_ID,
    Note,
    NoteIn,
    NotePatch,
    Store,
    User,
    UserIn,
    complete_allow_headers,
)

NoteId = Annotated[int, Path(ge=1, le=10**9)]
UserId = Annotated[str, Path(pattern=USER_ID)]


def create_app() -> FastAPI:
    accounts, store = Accounts(), Store()
    app = FastAPI(title="notes and directory (fixed)")
    add_account_routes(app, accounts)
    complete_allow_headers(app)
    Caller = Annotated[str, Depends(app.state.current_user)]

    @app.post("/notes", status_code=201, response_model=Note, responses={**UNAUTHORIZED, **BAD_BODY})
    def add_note(body: NoteIn, caller: Caller) -> Any:
        return store.add_note(caller, body)

    @app.get("/notes", response_model=list[Note], responses=UNAUTHORIZED)
    def my_notes(caller: Caller) -> Any:
        return [note for note in store.notes.values() if note["owner"] == caller]

    @app.get("/notes/{note_id}", response_model=Note, responses={**UNAUTHORIZED, **NOT_FOUND})
    def read_note(note_id: NoteId, caller: Caller) -> Any:
        note = store.own_note(note_id, caller)  # FIX: bola: only the owner reads a note
        if note is None:
            raise HTTPException(404, "no such note")
        return note

    @app.patch("/notes/{note_id}", response_model=Note, responses={**UNAUTHORIZED, **NOT_FOUND, **BAD_BODY})
    def change_note(note_id: NoteId, body: NotePatch, caller: Caller) -> Any:
        note = store.own_note(note_id, caller)
        if note is None:
            raise HTTPException(404, "no such note")
        note.update(body.model_dump(exclude_none=True))
        return note

    @app.delete("/notes/{note_id}", status_code=204, responses={**UNAUTHORIZED, **NOT_FOUND})
    def delete_note(note_id: NoteId, caller: Caller) -> None:
        if store.own_note(note_id, caller) is None:
            raise HTTPException(404, "no such note")
        store.notes.pop(note_id, None)

    @app.post("/users", status_code=201, response_model=User, responses={**UNAUTHORIZED, **BAD_BODY})
    def add_user(body: UserIn, caller: Caller) -> Any:
        return store.add_user(caller, body)

    @app.get("/users/{user_id}", response_model=User, responses={**UNAUTHORIZED, **NOT_FOUND})
    def read_user(user_id: UserId, caller: Caller) -> Any:
        user = store.users.get(user_id)  # the directory is shared: anyone signed in reads it
        if user is None:
            raise HTTPException(404, "no such user")
        return user

    @app.delete("/users/{user_id}", status_code=204, responses={**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND})
    def delete_user(user_id: UserId, caller: Caller) -> None:
        if accounts.users[caller]["role"] != "admin":  # FIX: bfla: only an admin deletes users
            raise HTTPException(403, "admins only")
        if store.users.pop(user_id, None) is None:
            raise HTTPException(404, "no such user")

    return app


app = create_app()
