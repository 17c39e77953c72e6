from __future__ import annotations

from typing import Any

from sqlalchemy import text

from ..db import db_session
from . import JsonResponse, json_response


def health() -> JsonResponse:
    db_session.execute(text("SELECT 1"))
    return json_response({"status": "ok", "database": "ok"})
