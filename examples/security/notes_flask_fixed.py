"""Notes board API (Flask + SQLite) -- the FIXED twin of ``notes_flask_buggy.py``.

The contract is the static ``notes_flask_openapi.yaml``, also served at
``/openapi.yaml``. Serve it with ``flask --app notes_flask_fixed run`` from this
directory. Each fix of a defect seeded in the buggy twin is marked
``# FIX: <rule-id>:`` below.
"""

import os
import sqlite3
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from werkzeug.debug import DebuggedApplication

try:  # imported as part of a package (examples.security.notes_flask_fixed)
    from . import _notes_flask_db as db
except ImportError:  # imported from this directory (flask --app notes_flask_fixed run)
    import _notes_flask_db as db  # type: ignore[no-redef]

DEBUG = os.environ.get("NOTES_DEBUG", "0") == "1"  # FIX: leak-debug-page: the debugger only when switched on (locally)

api = Blueprint("notes", __name__)


def store() -> db.NotesStore:
    return current_app.extensions["notes_store"]


def note_json(row: db.Row, author: db.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "body": row["body"],
        "author": {"id": author["id"], "name": author["name"]},  # FIX: sensitive-field: the documented Author only
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
        # FIX: sqli-error: q is a bound parameter, never SQL
        where, params = "n.title LIKE ? OR n.body LIKE ?", (f"%{q}%", f"%{q}%")
    try:
        rows, total = store().list_notes(where, params, limit, offset)
    except sqlite3.Error:
        # FIX: leak-sql-error: the details go to the log, the client gets a generic message
        current_app.logger.exception("note search failed for q=%r", q)
        return jsonify(error="query failed"), 400
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
    # FIX: mass-assignment: only the profile fields of UserUpdate; role stays read-only (400 if sent)
    changes = db.parse_user_update(request.get_json(silent=True), allowed=db.PROFILE_FIELDS)
    if changes:  # FIX: leak-debug-page: an empty PATCH ({}) changes nothing; "UPDATE users SET  WHERE" is a syntax error
        store().update_user(user_id, changes)
    return jsonify(db.user_json(lookup("user", user_id)))


def response_headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"  # FIX: header-missing: no MIME sniffing, on every response
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
