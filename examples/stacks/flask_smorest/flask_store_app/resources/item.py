from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from ..config import MAX_ID
from ..db import db
from ..models import ItemModel
from ..schemas import ItemSchema, ItemUpdateSchema
from ..security import require_admin
from . import Blueprint, id_param, id_rule

blp = Blueprint("items", __name__, description="Operations on items")


class ItemFilterSchema(Schema):
    # A query string is text: not strict, so "?store_id=2" is the integer 2.
    store_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                              metadata={"description": "Only this store's items."})


@blp.route("/items")
class ItemList(MethodView):
    @jwt_required()
    @blp.arguments(ItemFilterSchema, location="query")
    @blp.response(200, ItemSchema(many=True))
    @blp.paginate()
    def get(self, filters: dict[str, Any], pagination_parameters: PaginationParameters) -> list[ItemModel]:
        """List items with their store and tags, by id."""
        conditions = [ItemModel.store_id == filters["store_id"]] if "store_id" in filters else []
        total = db.session.scalar(select(func.count()).select_from(ItemModel).where(*conditions)) or 0
        pagination_parameters.item_count = total
        if pagination_parameters.first_item >= total:
            return []
        query = (
            select(ItemModel)
            .where(*conditions)
            .options(joinedload(ItemModel.store), selectinload(ItemModel.tags))
            .order_by(ItemModel.id)
            .limit(pagination_parameters.page_size)
            .offset(pagination_parameters.first_item)
        )
        return list(db.session.scalars(query))

    @jwt_required()
    @blp.arguments(ItemSchema)
    @blp.response(201, ItemSchema)
    @blp.alt_response(404, description="No store with that store_id")
    def post(self, item_data: dict[str, Any]) -> ItemModel:
        """Create an item in a store."""
        item = ItemModel(**item_data)
        db.session.add(item)
        try:
            db.session.commit()  # the foreign key is the check that the store exists
        except IntegrityError:
            db.session.rollback()
            abort(404, message="Store not found.")
        return item


@blp.route(f"/items/{id_rule('item_id')}", parameters=[id_param("item_id", "item")])
class Item(MethodView):
    @jwt_required()
    @blp.response(200, ItemSchema)
    @blp.alt_response(404, description="Item not found")
    def get(self, item_id: int) -> ItemModel:
        """An item with its store and tags."""
        return db.get_or_404(ItemModel, item_id, description="Item not found.")

    @jwt_required()
    @blp.arguments(ItemUpdateSchema, required=False)  # no body, or {}: nothing changes
    @blp.response(200, ItemSchema)
    @blp.alt_response(404, description="Item not found")
    def patch(self, item_data: dict[str, Any], item_id: int) -> ItemModel:
        """Change an item's name, price or description; fields left out keep their value."""
        item = db.get_or_404(ItemModel, item_id, description="Item not found.")
        for field, value in item_data.items():
            setattr(item, field, value)
        db.session.commit()
        return item

    @jwt_required(fresh=True)
    @blp.response(204)
    @blp.alt_response(403, description="Admin privilege required")
    @blp.alt_response(404, description="Item not found")
    def delete(self, item_id: int) -> None:
        """Delete an item (admins only, fresh token)."""
        require_admin()
        item = db.get_or_404(ItemModel, item_id, description="Item not found.")
        db.session.delete(item)
        db.session.commit()
