from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..config import settings
from ..db import db_session
from ..errors import conflict
from ..models import Owner, Pet, Tag, Visit
from . import JsonResponse, envelope, get_or_404, json_response, page, parse_date, pet_json

PET_DETAILS = (selectinload(Pet.owner), selectinload(Pet.tags))


# A body that names a missing owner or tag is a 409: the request conflicts with the current state. Not a 404,
# which says the resource in the URL is missing, and not a 422, which the contract calls a rejected valid request.
def _tags(tag_ids: list[int]) -> list[Tag]:
    tags = list(db_session.scalars(select(Tag).where(Tag.id.in_(tag_ids)).order_by(Tag.name)))
    missing = sorted(set(tag_ids) - {tag.id for tag in tags})
    if missing:
        raise conflict(f"tag {missing[0]} does not exist")
    return tags


def _owner(owner_id: int) -> Owner:
    owner = db_session.get(Owner, owner_id)
    if owner is None:
        raise conflict(f"owner {owner_id} does not exist")
    return owner


def list_pets(limit: int = 20, offset: int = 0, owner_id: int | None = None, species: str | None = None,
              tag: str | None = None) -> JsonResponse:
    stmt = select(Pet).order_by(Pet.id)
    if owner_id is not None:
        stmt = stmt.where(Pet.owner_id == owner_id)
    if species is not None:
        stmt = stmt.where(Pet.species == species)
    if tag is not None:
        stmt = stmt.where(Pet.tags.any(Tag.name == tag))
    if settings.defects:
        # DEFECT(n-plus-one): the page is loaded without its relations, so pet_json() lazy-loads each pet's
        # owner and tags: two SELECTs per row; fixed twin: selectinload(Pet.owner) and selectinload(Pet.tags).
        pass
    else:
        stmt = stmt.options(*PET_DETAILS)
    pets, total = page(stmt, limit, offset)
    return json_response(envelope([pet_json(pet) for pet in pets], total, limit, offset))


def create_pet(body: dict[str, Any]) -> JsonResponse:
    pet = Pet(name=body["name"], species=body["species"], notes=body.get("notes"),
              birth_date=parse_date(body.get("birth_date"), "birth_date"), owner=_owner(body["owner_id"]),
              tags=_tags(body.get("tag_ids", [])))
    db_session.add(pet)
    try:
        db_session.commit()
    except IntegrityError:  # the owner or a tag was deleted meanwhile
        db_session.rollback()
        raise conflict("the pet's owner or one of its tags was deleted meanwhile") from None
    return json_response(pet_json(pet), 201, location=f"/api/pets/{pet.id}")


def get_pet(pet_id: int) -> JsonResponse:
    return json_response(pet_json(get_or_404(Pet, pet_id, *PET_DETAILS)))


def update_pet(pet_id: int, body: dict[str, Any]) -> JsonResponse:
    pet = get_or_404(Pet, pet_id, *PET_DETAILS)
    for field in ("name", "species", "notes"):
        if field in body:
            setattr(pet, field, body[field])
    if "birth_date" in body:
        pet.birth_date = parse_date(body["birth_date"], "birth_date")
    if "owner_id" in body:
        pet.owner = _owner(body["owner_id"])
    if "tag_ids" in body:
        pet.tags = _tags(body["tag_ids"])
    db_session.commit()
    return json_response(pet_json(pet))


def delete_pet(pet_id: int) -> tuple[None, int]:
    pet = get_or_404(Pet, pet_id)
    if db_session.scalar(select(exists().where(Visit.pet_id == pet_id))):
        raise conflict(f"pet {pet_id} has visits on record: delete them first")
    db_session.delete(pet)
    try:
        db_session.commit()
    except IntegrityError:  # a visit was recorded meanwhile: the foreign key (RESTRICT) refused the delete
        db_session.rollback()
        raise conflict(f"pet {pet_id} has visits on record: delete them first") from None
    return None, 204
