from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from fastapi_sqlmodel_app.api.deps import CurrentUser, SessionDep, get_current_active_superuser
from fastapi_sqlmodel_app.api.errors import NotFoundError, responses
from fastapi_sqlmodel_app.core.config import settings
from fastapi_sqlmodel_app.models import MAX_ID, Message, Tag, TagCreate, TagPublic, TagsPublic, TagUpdate

router = APIRouter(prefix="/tags", tags=["tags"])

TagId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Skip = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _name_taken(name: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, f"A tag named {name!r} already exists")


@router.get("/", response_model=TagsPublic, responses=responses(401, 403))
def read_tags(session: SessionDep, current_user: CurrentUser, skip: Skip = 0, limit: Limit = 100) -> Any:
    """Retrieve tags (shared by every user), by name."""
    count = session.exec(select(func.count()).select_from(Tag)).one()
    tags = session.exec(select(Tag).order_by(col(Tag.name)).offset(skip).limit(limit)).all()
    return TagsPublic(data=[TagPublic.model_validate(tag) for tag in tags], count=count)


@router.post(
    "/", response_model=TagPublic, status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 409)
)
def create_tag(*, session: SessionDep, current_user: CurrentUser, tag_in: TagCreate) -> Any:
    """Create a tag; names are unique."""
    tag = Tag.model_validate(tag_in)
    if settings.DEFECTS:
        # DEFECT(check-then-insert): looks the name up, then inserts; two identical requests at once both find it free, and the second INSERT hits the UNIQUE index: IntegrityError -> 500; fixed twin: inserts and turns the IntegrityError into a 409
        if session.exec(select(Tag).where(Tag.name == tag_in.name)).first() is not None:
            raise _name_taken(tag_in.name)
        session.add(tag)
        session.commit()
    else:
        session.add(tag)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise _name_taken(tag_in.name) from None
    session.refresh(tag)
    return tag


@router.get("/{tag_id:int}", response_model=TagPublic, responses=responses(401, 403, 404))
def read_tag(session: SessionDep, current_user: CurrentUser, tag_id: TagId) -> Any:
    """Get a tag by id."""
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFoundError("tag", tag_id)
    return tag


@router.patch(
    "/{tag_id:int}",
    dependencies=[Depends(get_current_active_superuser)],
    response_model=TagPublic,
    responses=responses(400, 401, 403, 404, 409),
)
def update_tag(*, session: SessionDep, tag_id: TagId, tag_in: TagUpdate) -> Any:
    """Rename or describe a tag (superusers only: tags are shared)."""
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFoundError("tag", tag_id)
    tag.sqlmodel_update(tag_in.model_dump(exclude_unset=True))
    session.add(tag)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _name_taken(tag_in.name) from None
    session.refresh(tag)
    return tag


@router.delete(
    "/{tag_id:int}",
    dependencies=[Depends(get_current_active_superuser)],
    responses=responses(401, 403, 404),
)
def delete_tag(session: SessionDep, tag_id: TagId) -> Message:
    """Delete a tag; items keep existing without it (superusers only)."""
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFoundError("tag", tag_id)
    session.delete(tag)
    session.commit()
    return Message(message="Tag deleted successfully")
