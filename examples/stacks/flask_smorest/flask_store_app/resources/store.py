from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..db import db
from ..models import StoreModel
from ..schemas import StoreSchema, StoreUpdateSchema
from ..security import require_admin
from . import Blueprint, id_param, id_rule

blp = Blueprint("stores", __name__, description="Operations on stores")


@blp.route("/stores")
class StoreList(MethodView):
    @jwt_required()
    @blp.response(200, StoreSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[StoreModel]:
        """List stores with their items and tags, by id."""
        total = db.session.scalar(select(func.count()).select_from(StoreModel)) or 0
        pagination_parameters.item_count = total
        if pagination_parameters.first_item >= total:
            return []  # past the last page (also keeps a huge page number out of SQLite's OFFSET)
        query = (
            select(StoreModel)
            .order_by(StoreModel.id)
            .limit(pagination_parameters.page_size)
            .offset(pagination_parameters.first_item)
        )
        # DEFECT(n-plus-one): the buggy twin leaves items and tags lazy, and StoreSchema dumps them: two SELECTs per
        # store on the page; fixed twin: selectinload, one SELECT per relation for the whole page.
        if not current_app.config["STACK_DEFECTS"]:
            query = query.options(selectinload(StoreModel.items), selectinload(StoreModel.tags))
        return list(db.session.scalars(query))

    @jwt_required()
    @blp.arguments(StoreUpdateSchema)
    @blp.response(201, StoreSchema)
    @blp.alt_response(409, description="A store with that name already exists")
    def post(self, store_data: dict[str, Any]) -> StoreModel:
        """Create a store (names are unique)."""
        store = StoreModel(**store_data)
        db.session.add(store)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            abort(409, message="A store with that name already exists.")
        return store


@blp.route(f"/stores/{id_rule('store_id')}", parameters=[id_param("store_id", "store")])
class Store(MethodView):
    @jwt_required()
    @blp.response(200, StoreSchema)
    @blp.alt_response(404, description="Store not found")
    def get(self, store_id: int) -> StoreModel:
        """A store with its items and tags."""
        return db.get_or_404(StoreModel, store_id, description="Store not found.")

    @jwt_required()
    @blp.arguments(StoreUpdateSchema)
    @blp.response(200, StoreSchema)
    @blp.alt_response(404, description="Store not found")
    @blp.alt_response(409, description="A store with that name already exists")
    def patch(self, store_data: dict[str, Any], store_id: int) -> StoreModel:
        """Rename a store."""
        store = db.get_or_404(StoreModel, store_id, description="Store not found.")
        store.name = store_data["name"]
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            abort(409, message="A store with that name already exists.")
        return store

    @jwt_required(fresh=True)
    @blp.response(204)
    @blp.alt_response(403, description="Admin privilege required")
    @blp.alt_response(404, description="Store not found")
    def delete(self, store_id: int) -> None:
        """Delete a store, its items and its tags (admins only)."""
        require_admin()
        store = db.get_or_404(StoreModel, store_id, description="Store not found.")
        db.session.delete(store)
        db.session.commit()
