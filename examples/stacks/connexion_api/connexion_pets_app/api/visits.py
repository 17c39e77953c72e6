from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import db_session
from ..models import Pet, Visit
from . import JsonResponse, envelope, get_or_404, json_response, page, parse_date, visit_json


def list_pet_visits(pet_id: int, limit: int = 20, offset: int = 0) -> JsonResponse:
    get_or_404(Pet, pet_id)
    stmt = select(Visit).where(Visit.pet_id == pet_id).order_by(Visit.visit_date.desc(), Visit.id.desc())
    visits, total = page(stmt, limit, offset)
    return json_response(envelope([visit_json(visit) for visit in visits], total, limit, offset))


def create_visit(pet_id: int, body: dict[str, Any]) -> JsonResponse:
    pet = get_or_404(Pet, pet_id)
    visit = Visit(pet=pet, visit_date=parse_date(body["visit_date"], "visit_date"), reason=body["reason"],
                  vet_name=body["vet_name"], notes=body.get("notes"))
    db_session.add(visit)
    db_session.commit()
    return json_response(visit_json(visit), 201, location=f"/api/visits/{visit.id}")


def get_visit(visit_id: int) -> JsonResponse:
    return json_response(visit_json(get_or_404(Visit, visit_id)))


def update_visit(visit_id: int, body: dict[str, Any]) -> JsonResponse:
    visit = get_or_404(Visit, visit_id)
    for field in ("reason", "vet_name", "notes"):
        if field in body:
            setattr(visit, field, body[field])
    if "visit_date" in body:
        visit.visit_date = parse_date(body["visit_date"], "visit_date")
    db_session.commit()
    return json_response(visit_json(visit))


def delete_visit(visit_id: int) -> tuple[None, int]:
    db_session.delete(get_or_404(Visit, visit_id))
    db_session.commit()
    return None, 204
