from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from fastapi_sqlmodel_app import crud
from fastapi_sqlmodel_app.api.deps import CurrentUser, SessionDep, get_current_active_superuser
from fastapi_sqlmodel_app.api.errors import NotFoundError, responses
from fastapi_sqlmodel_app.core.security import get_password_hash, verify_password
from fastapi_sqlmodel_app.models import (
    MAX_ID,
    Message,
    UpdatePassword,
    User,
    UserCreate,
    UserPublic,
    UserRegister,
    UsersPublic,
    UserUpdate,
    UserUpdateMe,
)

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Skip = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]
EMAIL_TAKEN = "The user with this email already exists in the system"


def _commit_or_conflict(session: SessionDep, detail: str) -> None:
    """Commit; a unique constraint that fails (a concurrent request took the value) is a 409, not a 500."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail) from None


@router.get(
    "/",
    dependencies=[Depends(get_current_active_superuser)],
    response_model=UsersPublic,
    responses=responses(401, 403),
)
def read_users(session: SessionDep, skip: Skip = 0, limit: Limit = 100) -> Any:
    """Retrieve users (superusers only)."""
    count = session.exec(select(func.count()).select_from(User)).one()
    users = session.exec(select(User).order_by(col(User.id)).offset(skip).limit(limit)).all()
    return UsersPublic(data=[UserPublic.model_validate(user) for user in users], count=count)


@router.post(
    "/",
    dependencies=[Depends(get_current_active_superuser)],
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 409),
)
def create_user(*, session: SessionDep, user_in: UserCreate) -> Any:
    """Create a new user (superusers only)."""
    if crud.get_user_by_email(session=session, email=user_in.email) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, EMAIL_TAKEN)
    user = crud.create_user(session=session, user_create=user_in)
    _commit_or_conflict(session, EMAIL_TAKEN)
    session.refresh(user)
    return user


@router.get("/me", response_model=UserPublic, responses=responses(401, 403))
def read_user_me(current_user: CurrentUser) -> Any:
    """Get the current user."""
    return current_user


@router.patch("/me", response_model=UserPublic, responses=responses(400, 401, 403, 409))
def update_user_me(*, session: SessionDep, user_in: UserUpdateMe, current_user: CurrentUser) -> Any:
    """Update own profile."""
    if user_in.email is not None:
        existing = crud.get_user_by_email(session=session, email=user_in.email)
        if existing is not None and existing.id != current_user.id:
            raise HTTPException(status.HTTP_409_CONFLICT, EMAIL_TAKEN)
    current_user.sqlmodel_update(user_in.model_dump(exclude_unset=True))
    session.add(current_user)
    _commit_or_conflict(session, EMAIL_TAKEN)
    session.refresh(current_user)
    return current_user


@router.patch("/me/password", response_model=Message, responses=responses(400, 401, 403, 409))
def update_password_me(*, session: SessionDep, body: UpdatePassword, current_user: CurrentUser) -> Any:
    """Change own password."""
    if not verify_password(body.current_password, current_user.hashed_password):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Incorrect password")
    if body.current_password == body.new_password:
        # 409, not 400: the body is well formed, it only conflicts with the current state.
        raise HTTPException(status.HTTP_409_CONFLICT, "New password cannot be the same as the current one")
    current_user.hashed_password = get_password_hash(body.new_password)
    session.add(current_user)
    session.commit()
    return Message(message="Password updated successfully")


@router.delete("/me", response_model=Message, responses=responses(401, 403))
def delete_user_me(session: SessionDep, current_user: CurrentUser) -> Any:
    """Delete own account (and its items)."""
    if current_user.is_superuser:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Super users are not allowed to delete themselves")
    session.delete(current_user)
    session.commit()
    return Message(message="User deleted successfully")


@router.post("/signup", response_model=UserPublic, status_code=status.HTTP_201_CREATED, responses=responses(400, 409))
def register_user(session: SessionDep, user_in: UserRegister) -> Any:
    """Create a new user without the need to be logged in."""
    if crud.get_user_by_email(session=session, email=user_in.email) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, EMAIL_TAKEN)
    user = crud.create_user(session=session, user_create=UserCreate.model_validate(user_in))
    _commit_or_conflict(session, EMAIL_TAKEN)
    session.refresh(user)
    return user


@router.get("/{user_id:int}", response_model=UserPublic, responses=responses(401, 403, 404))
def read_user_by_id(user_id: UserId, session: SessionDep, current_user: CurrentUser) -> Any:
    """Get a user by id: oneself, or anyone for a superuser."""
    user = session.get(User, user_id)
    if user == current_user:
        return user
    if not current_user.is_superuser:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "The user doesn't have enough privileges")
    if user is None:
        raise NotFoundError("user", user_id)
    return user


@router.patch(
    "/{user_id:int}",
    dependencies=[Depends(get_current_active_superuser)],
    response_model=UserPublic,
    responses=responses(400, 401, 403, 404, 409),
)
def update_user(*, session: SessionDep, user_id: UserId, user_in: UserUpdate, current_user: CurrentUser) -> Any:
    """Update a user (superusers only)."""
    db_user = session.get(User, user_id)
    if db_user is None:
        raise NotFoundError("user", user_id)
    if db_user.id == current_user.id and (user_in.is_active is False or user_in.is_superuser is False):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Super users cannot deactivate or demote themselves")
    if user_in.email is not None:
        existing = crud.get_user_by_email(session=session, email=user_in.email)
        if existing is not None and existing.id != user_id:
            raise HTTPException(status.HTTP_409_CONFLICT, EMAIL_TAKEN)
    db_user = crud.update_user(session=session, db_user=db_user, user_in=user_in)
    _commit_or_conflict(session, EMAIL_TAKEN)
    session.refresh(db_user)
    return db_user


@router.delete(
    "/{user_id:int}",
    dependencies=[Depends(get_current_active_superuser)],
    response_model=Message,
    responses=responses(401, 403, 404),
)
def delete_user(session: SessionDep, current_user: CurrentUser, user_id: UserId) -> Any:
    """Delete a user and their items (superusers only)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    if user == current_user:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Super users are not allowed to delete themselves")
    session.delete(user)
    session.commit()
    return Message(message="User deleted successfully")
