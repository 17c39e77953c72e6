"""Notes board API (Flask + SQLite) -- the BUGGY twin, with seeded security defects.

The contract is the static ``notes_flask_openapi.yaml``, also served at
``/openapi.yaml``. Serve it with ``flask --app notes_flask_buggy run`` from this
directory. ``notes_flask_fixed.py`` is the same service with the defects fixed;
each defect is marked ``# DEFECT: <rule-id>:`` below (the rule ids are those of
the security gate).
"""

import os
import sqlite3
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from werkzeug.debug import DebuggedApplication

try:  # imported as part of a package (examples.security.notes_flask_buggy)
    from . import _notes_flask_db as db
except ImportError:  # imported from this directory (flask --app notes_flask_buggy run)
    import _notes_flask_db as db  # type: ignore[no-redef]

DEBUG = os.environ.get("NOTES_DEBUG", "1") != "0"  # DEFECT: leak-debug-page: the debugger is on unless switched off

api = Blueprint("notes", __name__)


def store() -> db.NotesStore:
    return current_app.extensions["notes_store"]


def note_json(row: db.Row, author: db.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "body": row["body"],
        "author": author,  # DEFECT: sensitive-field: the whole users row goes out, api_key included
        "created_at": row["created_at"],
    }


def lookup(kind: str, item_id: int) -> db.Row:
    """The note or user ``item_id``, else a 404."""
    row = store().get_note(item_id) if kind == "note" else store().get_user(item_id)
    if row is None:
        abort(404, description=f"{kind} {item_id} not found")
    return row


@api.errorhandler(db.ValidationError)
def invalid_request(exc: db.ValidationError) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 400


@api.get("/health")
def health() -> Response:
    store().ping()
    return jsonify(status="ok")


@api.get("/notes")
def list_notes() -> Response | tuple[Response, int]:
    q, limit, offset = db.parse_list_args(request.args)
    where, params = "", ()
    if q is not None:
        # DEFECT: sqli-error: q is pasted into the SQL; a quote in it breaks (or rewrites) the query
        where = f"n.title LIKE '%{q}%' OR n.body LIKE '%{q}%'"
    try:
        rows, total = store().list_notes(where, params, limit, offset)
    except sqlite3.Error as exc:
        # DEFECT: leak-sql-error: the driver's message and the SQL itself go to the client
        return jsonify(error="query failed", detail=str(exc), sql=where), 400
    authors = store().users_by_id({row["author_id"] for row in rows})
    items = [note_json(row, authors[row["author_id"]]) for row in rows]
    return jsonify(items=items, total=total, limit=limit, offset=offset)


@api.get("/notes/<id:note_id>")
def get_note(note_id: int) -> Response:
    row = lookup("note", note_id)
    return jsonify(note_json(row, lookup("user", row["author_id"])))


@api.get("/users/<id:user_id>")
def get_user(user_id: int) -> Response:
    return jsonify(db.user_json(lookup("user", user_id)))


@api.patch("/users/<id:user_id>")
def update_user(user_id: int) -> Response:
    lookup("user", user_id)
    # DEFECT: mass-assignment: every column with a validator is writable, role included (readOnly in the document)
    changes = db.parse_user_update(request.get_json(silent=True), allowed=db.USER_FIELDS)
    # DEFECT: leak-debug-page: an empty PATCH ({}) runs "UPDATE users SET  WHERE ...", a syntax error
    store().update_user(user_id, changes)
    return jsonify(db.user_json(lookup("user", user_id)))


def response_headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    # DEFECT: header-missing: no X-Content-Type-Options: nosniff
    return response


def create_app(db_path: str = ":memory:") -> Flask:
    """A new app with its own (by default private, in-memory) database."""
    app = Flask(__name__)
    app.url_map.converters["id"] = db.IdConverter
    app.extensions["notes_store"] = db.NotesStore(db_path)
    app.register_blueprint(api)
    app.after_request(response_headers)
    db.json_http_errors(app)
    db.serve_spec(app)
    if DEBUG:
        app.debug = True  # errors propagate to the debugger instead of a plain 500
        app.wsgi_app = DebuggedApplication(app.wsgi_app, evalex=False)  # type: ignore[method-assign]
    return app


app = create_app()
