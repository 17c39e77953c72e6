from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..db import db
from ..models import ItemModel, StoreModel, TagModel, items_tags
from ..schemas import TagSchema, TagUpdateSchema
from . import Blueprint, id_param, id_rule

blp = Blueprint("tags", __name__, description="Operations on tags")

STORE_ID = [id_param("store_id", "store")]
TAG_ID = [id_param("tag_id", "tag")]
ITEM_TAG_IDS = [id_param("item_id", "item"), id_param("tag_id", "tag")]


@blp.route(f"/stores/{id_rule('store_id')}/tags", parameters=STORE_ID)
class TagsInStore(MethodView):
    @jwt_required()
    @blp.response(200, TagSchema(many=True))
    @blp.alt_response(404, description="Store not found")
    @blp.paginate()
    def get(self, store_id: int, pagination_parameters: PaginationParameters) -> list[TagModel]:
        """List a store's tags with the items they are on, by id."""
        db.get_or_404(StoreModel, store_id, description="Store not found.")
        in_store = TagModel.store_id == store_id
        total = db.session.scalar(select(func.count()).select_from(TagModel).where(in_store)) or 0
        pagination_parameters.item_count = total
        if pagination_parameters.first_item >= total:
            return []
        query = (
            select(TagModel)
            .where(in_store)
            .options(selectinload(TagModel.items))
            .order_by(TagModel.id)
            .limit(pagination_parameters.page_size)
            .offset(pagination_parameters.first_item)
        )
        return list(db.session.scalars(query))

    @jwt_required()
    @blp.arguments(TagUpdateSchema)
    @blp.response(201, TagSchema)
    @blp.alt_response(404, description="Store not found")
    @blp.alt_response(409, description="The store already has a tag with that name")
    def post(self, tag_data: dict[str, Any], store_id: int) -> TagModel:
        """Create a tag in a store (names are unique per store)."""
        db.get_or_404(StoreModel, store_id, description="Store not found.")
        tag = TagModel(name=tag_data["name"], store_id=store_id)
        if current_app.config["STACK_DEFECTS"]:
            # DEFECT(check-then-insert): look for the name, then insert: two identical requests at once both see
            # no tag, the second INSERT breaks uq_tags_store_id_name and its IntegrityError is a 500; fixed twin:
            # insert, and the unique constraint's IntegrityError is the 409 (below).
            taken = db.session.scalar(select(TagModel.id).filter_by(store_id=store_id, name=tag_data["name"]))
            if taken is not None:
                abort(409, message="The store already has a tag with that name.")
            db.session.add(tag)
            db.session.commit()
            return tag
        db.session.add(tag)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            db.get_or_404(StoreModel, store_id, description="Store not found.")  # deleted meanwhile?
            abort(409, message="The store already has a tag with that name.")
        return tag


@blp.route(f"/tags/{id_rule('tag_id')}", parameters=TAG_ID)
class Tag(MethodView):
    @jwt_required()
    @blp.response(200, TagSchema)
    @blp.alt_response(404, description="Tag not found")
    def get(self, tag_id: int) -> TagModel:
        """A tag with the items it is on."""
        return db.get_or_404(TagModel, tag_id, description="Tag not found.")

    @jwt_required()
    @blp.arguments(TagUpdateSchema)
    @blp.response(200, TagSchema)
    @blp.alt_response(404, description="Tag not found")
    @blp.alt_response(409, description="The store already has a tag with that name")
    def patch(self, tag_data: dict[str, Any], tag_id: int) -> TagModel:
        """Rename a tag."""
        tag = db.get_or_404(TagModel, tag_id, description="Tag not found.")
        tag.name = tag_data["name"]
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            abort(409, message="The store already has a tag with that name.")
        return tag

    @jwt_required()
    @blp.response(204)
    @blp.alt_response(404, description="Tag not found")
    def delete(self, tag_id: int) -> None:
        """Delete a tag; it is removed from the items it was on."""
        tag = db.get_or_404(TagModel, tag_id, description="Tag not found.")
        db.session.delete(tag)
        db.session.commit()


@blp.route(f"/items/{id_rule('item_id')}/tags/{id_rule('tag_id')}", parameters=ITEM_TAG_IDS)
class LinkTagToItem(MethodView):
    @jwt_required()
    @blp.response(201, TagSchema)
    @blp.alt_response(404, description="Item or tag not found")
    @blp.alt_response(409, description="The tag is already on the item, or belongs to another store")
    def post(self, item_id: int, tag_id: int) -> TagModel:
        """Put a tag of the item's store on the item."""
        item = db.get_or_404(ItemModel, item_id, description="Item not found.")
        tag = db.get_or_404(TagModel, tag_id, description="Tag not found.")
        if tag.store_id != item.store_id:
            abort(409, message="The tag belongs to another store than the item.")
        try:
            db.session.execute(insert(items_tags).values(item_id=item_id, tag_id=tag_id))
            db.session.commit()
        except IntegrityError:  # the primary key (item_id, tag_id): linked already, or by a concurrent request
            db.session.rollback()
            abort(409, message="The tag is already on the item.")
        return tag

    @jwt_required()
    @blp.response(204)
    @blp.alt_response(404, description="Item or tag not found, or the tag is not on the item")
    def delete(self, item_id: int, tag_id: int) -> None:
        """Take a tag off an item."""
        db.get_or_404(ItemModel, item_id, description="Item not found.")
        db.get_or_404(TagModel, tag_id, description="Tag not found.")
        result = db.session.execute(
            delete(items_tags).where(items_tags.c.item_id == item_id, items_tags.c.tag_id == tag_id)
        )
        db.session.commit()
        if result.rowcount == 0:
            abort(404, message="The tag is not on the item.")
