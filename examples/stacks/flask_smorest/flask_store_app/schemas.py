"""marshmallow schemas: request bodies (load) and responses (dump).

"Plain" schemas carry a resource's own fields; the full ones nest its relations.
Unknown fields are rejected (marshmallow's default, RAISE), so a client cannot
set ``id`` or ``store`` by sending them.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from .config import DEFECTS, MAX_ID

TAG_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
TAG_NAME_DOC = {"pattern": f"^{TAG_NAME.pattern}$", "description": "A lowercase slug, e.g. 'on-sale'."}


def validate_tag_name(value: Any) -> str:
    """A tag is a lowercase slug: 1-40 of a-z, 0-9 and '-', not starting with '-'."""
    if not isinstance(value, str) or TAG_NAME.fullmatch(value) is None:
        raise ValidationError("Tag names are 1-40 lowercase letters, digits or '-', starting with a letter or digit.")
    return value


class StrictFloat(fields.Float):
    """A JSON number, not a numeric string: marshmallow's Float accepts "1.5"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def Id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


NAME = validate.Length(min=1, max=80)
PRICE = validate.Range(min=0, max=1_000_000)


class PlainStoreSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=NAME)


class PlainItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=NAME)
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    price = StrictFloat(required=True, validate=PRICE)


class PlainTagSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate_tag_name, metadata=TAG_NAME_DOC)


class StoreSchema(PlainStoreSchema):
    items = fields.List(fields.Nested(PlainItemSchema()), dump_only=True)
    tags = fields.List(fields.Nested(PlainTagSchema()), dump_only=True)


class StoreUpdateSchema(Schema):
    name = fields.String(required=True, validate=NAME)


class ItemSchema(PlainItemSchema):
    store_id = Id(required=True)
    store = fields.Nested(PlainStoreSchema(), dump_only=True)
    tags = fields.List(fields.Nested(PlainTagSchema()), dump_only=True)


class ItemUpdateSchema(Schema):
    # DEFECT(null-into-not-null): allow_none lets an explicit JSON null through for name and price, whose
    # columns are NOT NULL, so the UPDATE raises IntegrityError -> 500; fixed twin: null is refused (422).
    name = fields.String(validate=NAME, allow_none=DEFECTS)
    price = StrictFloat(validate=PRICE, allow_none=DEFECTS)
    description = fields.String(allow_none=True, validate=validate.Length(max=500))  # nullable column: null clears it


class TagSchema(PlainTagSchema):
    store_id = fields.Integer(dump_only=True)
    items = fields.List(fields.Nested(PlainItemSchema()), dump_only=True)


class TagUpdateSchema(Schema):
    name = fields.String(required=True, validate=validate_tag_name, metadata=TAG_NAME_DOC)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=128))
    is_admin = fields.Boolean(dump_only=True)


class LoginSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)


class MessageSchema(Schema):
    message = fields.String(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)
