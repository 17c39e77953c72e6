"""Labels: the current user's, each name used once."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Label, User
from ..errors import ResourceNotFound, responses
from ..schemas import LabelCreate, LabelRead, LabelUpdate, Page
from ..settings import settings
from .common import CurrentUser, LabelId, Limit, Offset, Session

router = APIRouter(prefix="/labels", tags=["labels"])


def name_taken(name: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_409_CONFLICT, detail=f"you already have a label named {name!r}")


async def get_owned_label(session: AsyncSession, user: User, label_id: int) -> Label:
    label = await session.scalar(select(Label).where(Label.id == label_id, Label.owner_id == user.id))
    if label is None:
        raise ResourceNotFound("label", label_id)
    return label


@router.get("", response_model=Page[LabelRead], responses=responses(401))
async def list_labels(session: Session, user: CurrentUser, limit: Limit = 20, offset: Offset = 0) -> Page[LabelRead]:
    labels = (
        await session.scalars(
            select(Label).where(Label.owner_id == user.id).order_by(Label.id).limit(limit).offset(offset)
        )
    ).all()
    total = await session.scalar(select(func.count()).select_from(Label).where(Label.owner_id == user.id))
    return Page[LabelRead](
        items=[LabelRead.model_validate(label) for label in labels], total=total or 0, limit=limit, offset=offset
    )


@router.post("", response_model=LabelRead, status_code=status.HTTP_201_CREATED, responses=responses(401, 409))
async def create_label(body: LabelCreate, session: Session, user: CurrentUser) -> LabelRead:
    label = Label(owner_id=user.id, name=body.name, color=body.color)
    if settings.defects:
        # DEFECT(check-then-insert): asks "is the name taken?" and then inserts; two identical creates at once both pass the check, and the second INSERT hits the UNIQUE(owner_id, name) constraint -> IntegrityError -> 500; fixed twin: inserts and turns the IntegrityError into a 409, so the constraint is the check.
        taken = await session.scalar(select(Label.id).where(Label.owner_id == user.id, Label.name == body.name))
        if taken is not None:
            raise name_taken(body.name)
        session.add(label)
        await session.commit()
        return LabelRead.model_validate(label)
    session.add(label)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise name_taken(body.name) from None
    return LabelRead.model_validate(label)


@router.get("/{label_id}", response_model=LabelRead, responses=responses(401, 404))
async def get_label(label_id: LabelId, session: Session, user: CurrentUser) -> LabelRead:
    return LabelRead.model_validate(await get_owned_label(session, user, label_id))


@router.patch("/{label_id}", response_model=LabelRead, responses=responses(401, 404, 409))
async def update_label(label_id: LabelId, body: LabelUpdate, session: Session, user: CurrentUser) -> LabelRead:
    label = await get_owned_label(session, user, label_id)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(label, field, value)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise name_taken(changes["name"]) from None
    return LabelRead.model_validate(label)


@router.delete("/{label_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 404))
async def delete_label(label_id: LabelId, session: Session, user: CurrentUser) -> Response:
    result = await session.execute(delete(Label).where(Label.id == label_id, Label.owner_id == user.id))
    await session.commit()
    if result.rowcount == 0:
        raise ResourceNotFound("label", label_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
