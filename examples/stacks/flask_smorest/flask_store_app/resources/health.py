from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..db import db
from ..schemas import HealthSchema
from . import Blueprint

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database is not reachable")
    def get(self) -> dict[str, str]:
        """Is the service up, and can it reach its database?"""
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            db.session.rollback()
            abort(503, message="The database is not reachable.")
        return {"status": "ok"}
