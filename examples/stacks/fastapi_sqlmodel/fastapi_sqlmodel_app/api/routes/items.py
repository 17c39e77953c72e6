from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy.orm import selectinload
from sqlmodel import col, func, select

from fastapi_sqlmodel_app.api.deps import CurrentUser, SessionDep
from fastapi_sqlmodel_app.api.errors import NotFoundError, responses
from fastapi_sqlmodel_app.core.config import settings
from fastapi_sqlmodel_app.models import (
    MAX_ID,
    Item,
    ItemCreate,
    ItemPublic,
    ItemsPublic,
    ItemUpdate,
    Message,
    Tag,
)

router = APIRouter(prefix="/items", tags=["items"])

ItemId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
TagId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Skip = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _get_own_item(session: SessionDep, current_user: CurrentUser, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError("item", item_id)
    if not current_user.is_superuser and item.owner_id != current_user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not enough permissions")
    return item


@router.get("/", response_model=ItemsPublic, responses=responses(401, 403))
def read_items(session: SessionDep, current_user: CurrentUser, skip: Skip = 0, limit: Limit = 100) -> Any:
    """Retrieve items: one's own, or every item for a superuser. Each comes with its tags."""
    count_statement = select(func.count()).select_from(Item)
    statement = select(Item).order_by(col(Item.id)).offset(skip).limit(limit)
    if not current_user.is_superuser:
        count_statement = count_statement.where(Item.owner_id == current_user.id)
        statement = statement.where(Item.owner_id == current_user.id)
    # DEFECT(n-plus-one): with STACK_DEFECTS the items are loaded without their tags, so building ItemPublic.tags lazy-loads them with one SELECT per item; fixed twin: selectinload(Item.tags) fetches the page's tags in one more SELECT
    if not settings.DEFECTS:
        statement = statement.options(selectinload(Item.tags))  # type: ignore[arg-type]
    count = session.exec(count_statement).one()
    items = session.exec(statement).all()
    return ItemsPublic(data=[ItemPublic.model_validate(item) for item in items], count=count)


@router.get("/{item_id:int}", response_model=ItemPublic, responses=responses(401, 403, 404))
def read_item(session: SessionDep, current_user: CurrentUser, item_id: ItemId) -> Any:
    """Get an item by id."""
    return _get_own_item(session, current_user, item_id)


@router.post("/", response_model=ItemPublic, status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403))
def create_item(*, session: SessionDep, current_user: CurrentUser, item_in: ItemCreate) -> Any:
    """Create an item owned by the current user."""
    item = Item.model_validate(item_in, update={"owner_id": current_user.id})
    session.add(item)
    session.commit()
    session.refresh(item)
    return item


@router.patch("/{item_id:int}", response_model=ItemPublic, responses=responses(400, 401, 403, 404))
def update_item(*, session: SessionDep, current_user: CurrentUser, item_id: ItemId, item_in: ItemUpdate) -> Any:
    """Update an item: only the fields sent."""
    item = _get_own_item(session, current_user, item_id)
    item.sqlmodel_update(item_in.model_dump(exclude_unset=True))
    session.add(item)
    session.commit()
    session.refresh(item)
    return item


@router.delete("/{item_id:int}", responses=responses(401, 403, 404))
def delete_item(session: SessionDep, current_user: CurrentUser, item_id: ItemId) -> Message:
    """Delete an item."""
    item = _get_own_item(session, current_user, item_id)
    session.delete(item)
    session.commit()
    return Message(message="Item deleted successfully")


@router.put("/{item_id:int}/tags/{tag_id:int}", response_model=ItemPublic, responses=responses(401, 403, 404))
def add_item_tag(session: SessionDep, current_user: CurrentUser, item_id: ItemId, tag_id: TagId) -> Any:
    """Tag an item (idempotent)."""
    item = _get_own_item(session, current_user, item_id)
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFoundError("tag", tag_id)
    if tag not in item.tags:
        item.tags.append(tag)
        session.add(item)
        session.commit()
        session.refresh(item)
    return item


@router.delete("/{item_id:int}/tags/{tag_id:int}", response_model=ItemPublic, responses=responses(401, 403, 404))
def remove_item_tag(session: SessionDep, current_user: CurrentUser, item_id: ItemId, tag_id: TagId) -> Any:
    """Remove a tag from an item."""
    item = _get_own_item(session, current_user, item_id)
    tag = next((tag for tag in item.tags if tag.id == tag_id), None)
    if tag is None:
        raise NotFoundError("tag", tag_id)
    item.tags.remove(tag)
    session.add(item)
    session.commit()
    session.refresh(item)
    return item
