"""Handlers of the operations in openapi.yaml (operationId -> function), and what they share."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, TypeVar

from connexion.exceptions import BadRequestProblem
from sqlalchemy import Select, func, select

from ..db import db_session
from ..errors import ResourceNotFound
from ..models import Base, Owner, Pet, Tag, Visit

M = TypeVar("M", bound=Base)
JsonResponse = tuple[dict[str, Any], int, dict[str, str]]


def json_response(body: dict[str, Any], status: int = 200, location: str | None = None) -> JsonResponse:
    """Operations document application/json for success and application/problem+json for errors, so
    Connexion needs the handler to say which one it returns."""
    headers = {"Content-Type": "application/json"}
    if location is not None:
        headers["Location"] = location
    return body, status, headers


def get_or_404(model: type[M], resource_id: int, *options: Any) -> M:
    obj = db_session.get(model, resource_id, options=options or None)
    if obj is None:
        raise ResourceNotFound(model.__name__.lower(), resource_id)
    return obj


def page(stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of `stmt` (already ordered) and the total count of its rows."""
    total = db_session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(db_session.scalars(stmt.limit(limit).offset(offset))), total


def envelope(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def parse_date(value: str | None, field: str) -> date | None:
    """The spec's pattern admits impossible days ('2024-02-30'): the calendar decides."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequestProblem(detail=f"'{value}' is not a valid date - '{field}'") from None


def iso_utc(moment: datetime) -> str:
    """SQLite hands DateTime(timezone=True) back naive: the stored value is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def owner_json(owner: Owner, *, with_pets: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": owner.id, "first_name": owner.first_name, "last_name": owner.last_name,
        "email": owner.email, "phone": owner.phone, "city": owner.city,
        "created_at": iso_utc(owner.created_at),
    }
    if with_pets:
        data["pets"] = [{"id": pet.id, "name": pet.name, "species": pet.species} for pet in owner.pets]
    return data


def tag_json(tag: Tag) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name}


def pet_json(pet: Pet) -> dict[str, Any]:
    return {
        "id": pet.id, "name": pet.name, "species": pet.species,
        "birth_date": pet.birth_date.isoformat() if pet.birth_date else None,
        "notes": pet.notes, "owner_id": pet.owner_id,
        "owner": {"id": pet.owner.id, "first_name": pet.owner.first_name, "last_name": pet.owner.last_name},
        "tags": [tag_json(tag) for tag in pet.tags],
        "created_at": iso_utc(pet.created_at),
    }


def visit_json(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.id, "pet_id": visit.pet_id, "visit_date": visit.visit_date.isoformat(),
        "reason": visit.reason, "vet_name": visit.vet_name, "notes": visit.notes,
    }
