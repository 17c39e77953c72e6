from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..config import settings
from ..db import db_session
from ..errors import conflict
from ..models import Tag
from . import JsonResponse, envelope, get_or_404, json_response, page, tag_json


def list_tags(limit: int = 20, offset: int = 0) -> JsonResponse:
    tags, total = page(select(Tag).order_by(Tag.name), limit, offset)
    return json_response(envelope([tag_json(tag) for tag in tags], total, limit, offset))


def create_tag(body: dict[str, Any]) -> JsonResponse:
    name = body["name"]
    if settings.defects:
        # DEFECT(check-then-insert): "is the name free?" then INSERT: two identical concurrent requests both
        # pass the check, the second INSERT breaks tags.name's UNIQUE constraint -> IntegrityError -> 500;
        # fixed twin: INSERT at once and answer 409 when the constraint refuses it.
        if db_session.scalar(select(Tag.id).where(Tag.name == name)) is not None:
            raise conflict(f"tag '{name}' already exists")
        tag = Tag(name=name)
        db_session.add(tag)
        db_session.commit()
    else:
        tag = Tag(name=name)
        db_session.add(tag)
        try:
            db_session.commit()
        except IntegrityError:
            db_session.rollback()
            raise conflict(f"tag '{name}' already exists") from None
    return json_response(tag_json(tag), 201, location=f"/api/tags/{tag.id}")


def get_tag(tag_id: int) -> JsonResponse:
    return json_response(tag_json(get_or_404(Tag, tag_id)))


def update_tag(tag_id: int, body: dict[str, Any]) -> JsonResponse:
    tag = get_or_404(Tag, tag_id)
    tag.name = body["name"]
    try:
        db_session.commit()
    except IntegrityError:
        db_session.rollback()
        raise conflict(f"tag '{body['name']}' already exists") from None
    return json_response(tag_json(tag))


def delete_tag(tag_id: int) -> tuple[None, int]:
    db_session.delete(get_or_404(Tag, tag_id))
    db_session.commit()
    return None, 204
