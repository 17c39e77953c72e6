"""Data access used by more than one route."""

from __future__ import annotations

from sqlmodel import Session, select

from fastapi_sqlmodel_app.core.security import DUMMY_HASH, get_password_hash, verify_password
from fastapi_sqlmodel_app.models import User, UserCreate, UserUpdate


def create_user(*, session: Session, user_create: UserCreate) -> User:
    """Insert a user; the caller commits and turns an IntegrityError (e-mail taken) into a 409."""
    db_obj = User.model_validate(user_create, update={"hashed_password": get_password_hash(user_create.password)})
    session.add(db_obj)
    return db_obj


def update_user(*, session: Session, db_user: User, user_in: UserUpdate) -> User:
    user_data = user_in.model_dump(exclude_unset=True)
    extra_data = {}
    if "password" in user_data:
        extra_data["hashed_password"] = get_password_hash(user_data.pop("password"))
    db_user.sqlmodel_update(user_data, update=extra_data)
    session.add(db_user)
    return db_user


def get_user_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    db_user = get_user_by_email(session=session, email=email)
    if db_user is None:
        verify_password(password, DUMMY_HASH)  # same cost as a wrong password: no user enumeration by timing
        return None
    if not verify_password(password, db_user.hashed_password):
        return None
    return db_user
