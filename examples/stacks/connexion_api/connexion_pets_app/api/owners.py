from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..db import db_session
from ..errors import conflict
from ..models import Owner, Pet
from . import JsonResponse, envelope, get_or_404, json_response, owner_json, page

FIELDS = ("first_name", "last_name", "email", "phone", "city")


def list_owners(limit: int = 20, offset: int = 0, last_name: str | None = None) -> JsonResponse:
    stmt = select(Owner).order_by(Owner.id)
    if last_name is not None:
        stmt = stmt.where(Owner.last_name == last_name)
    owners, total = page(stmt, limit, offset)
    return json_response(envelope([owner_json(owner) for owner in owners], total, limit, offset))


def create_owner(body: dict[str, Any]) -> JsonResponse:
    owner = Owner(**{field: body.get(field) for field in FIELDS})
    db_session.add(owner)
    db_session.commit()
    return json_response(owner_json(owner, with_pets=True), 201, location=f"/api/owners/{owner.id}")


def get_owner(owner_id: int) -> JsonResponse:
    return json_response(owner_json(get_or_404(Owner, owner_id, selectinload(Owner.pets)), with_pets=True))


def update_owner(owner_id: int, body: dict[str, Any]) -> JsonResponse:
    owner = get_or_404(Owner, owner_id, selectinload(Owner.pets))
    for field in FIELDS:
        if field in body:
            setattr(owner, field, body[field])
    db_session.commit()
    return json_response(owner_json(owner, with_pets=True))


def delete_owner(owner_id: int) -> tuple[None, int]:
    owner = get_or_404(Owner, owner_id)
    if db_session.scalar(select(exists().where(Pet.owner_id == owner_id))):
        raise conflict(f"owner {owner_id} still has pets: delete them or give them another owner first")
    db_session.delete(owner)
    try:
        db_session.commit()
    except IntegrityError:  # a pet was added meanwhile: the foreign key (RESTRICT) refused the delete
        db_session.rollback()
        raise conflict(f"owner {owner_id} still has pets: delete them or give them another owner first") from None
    return None, 204
