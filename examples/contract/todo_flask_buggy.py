"""Todo API (Flask + SQLite) -- the BUGGY twin, with three seeded defects.

The contract is the static ``todo_openapi.yaml``, also served at ``/openapi.yaml``.
Serve it with ``flask --app todo_flask_buggy run`` from this directory.
``todo_flask_fixed.py`` is the same service with the defects fixed; each defect
is marked ``# DEFECT:`` below.
"""

import re
import unicodedata
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

try:  # imported as part of a package (examples.contract.todo_flask_buggy)
    from . import _todo_db as db
except ImportError:  # imported from this directory (flask --app todo_flask_buggy run)
    import _todo_db as db  # type: ignore[no-redef]

todos = Blueprint("todos", __name__)
TODO_URL = "/todos/<id:todo_id>"  # see _todo_db.IdConverter


def store() -> db.TodoStore:
    return current_app.extensions["todo_store"]


def slugify(title: str) -> str:
    """ "Café ☕ at 9" -> "cafe-at-9", for shareable links."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii").decode()  # DEFECT: raises on "☕", "日本"
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-") or "todo"


def todo_json(row: db.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "slug": row["slug"],
        "done": row["done"],  # DEFECT: SQLite hands back 0/1, the document says boolean
        "priority": row["priority"],
        "due": row["due"],
        "created_at": row["created_at"],
    }


@todos.errorhandler(db.ValidationError)
def invalid_request(exc: db.ValidationError) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 422  # DEFECT: the document promises 400 for invalid requests


@todos.get("/health")
def health() -> Response:
    store().ping()
    return jsonify(status="ok")


@todos.get("/todos")
def list_todos() -> Response:
    done, limit, offset = db.parse_list_args(request.args)
    rows, total = store().search(done, limit, offset)
    return jsonify(items=[todo_json(row) for row in rows], total=total)


@todos.post("/todos")
def create_todo() -> tuple[Response, int, dict[str, str]]:
    fields = db.parse_create(request.get_json(silent=True))
    row = store().add(fields["title"], slugify(fields["title"]), fields["priority"], fields["due"])
    return jsonify(todo_json(row)), 201, {"Location": f"/todos/{row['id']}"}


@todos.get(TODO_URL)
def get_todo(todo_id: int) -> Response:
    row = store().get(todo_id)
    if row is None:
        abort(404, description=f"todo {todo_id} not found")
    return jsonify(todo_json(row))


@todos.patch(TODO_URL)
def update_todo(todo_id: int) -> Response:
    changes = db.parse_update(request.get_json(silent=True))
    if "title" in changes:
        changes["slug"] = slugify(changes["title"])
    row = store().update(todo_id, changes)
    if row is None:
        abort(404, description=f"todo {todo_id} not found")
    return jsonify(todo_json(row))


@todos.delete(TODO_URL)
def delete_todo(todo_id: int) -> tuple[str, int]:
    if not store().delete(todo_id):
        abort(404, description=f"todo {todo_id} not found")
    return "", 204


def create_app(db_path: str = ":memory:") -> Flask:
    """A new app with its own (by default private, in-memory) database."""
    app = Flask(__name__)
    app.url_map.converters["id"] = db.IdConverter
    app.extensions["todo_store"] = db.TodoStore(db_path)
    app.register_blueprint(todos)
    db.json_http_errors(app)
    db.serve_spec(app)
    return app


app = create_app()
