"""Blueprints, one per resource."""

from __future__ import annotations

from typing import Any

import flask_smorest

from ..config import MAX_ID


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, documenting the X-Pagination header as what it is.

    flask-smorest documents the header with the object schema of its metadata,
    but sends it as one JSON text; in OpenAPI 3 an object-typed header means the
    "simple" style (``total,8,page,1``), so validators reject every real answer.
    """

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata as a JSON object: total, total_pages, first_page, "
            "last_page, page, previous_page, next_page.",
            "schema": {"type": "string"},
        }


def id_rule(name: str) -> str:
    """A URL segment for a database id: 1..2**31-1 (werkzeug refuses other numbers with a 404)."""
    return f"<int(min=1,max={MAX_ID}):{name}>"


def id_param(name: str, what: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "description": f"Id of the {what}."}
