from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fastapi_sqlmodel_app import crud
from fastapi_sqlmodel_app.api.deps import CurrentUser, SessionDep, TokenPayloadDep
from fastapi_sqlmodel_app.api.errors import responses
from fastapi_sqlmodel_app.core import security
from fastapi_sqlmodel_app.core.config import settings
from fastapi_sqlmodel_app.models import Message, RevokedToken, Token, UserPublic

router = APIRouter(tags=["login"])


@router.post("/login/access-token", responses=responses(400))
def login_access_token(session: SessionDep, form_data: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """OAuth2 compatible token login: an access token for future requests."""
    user = crud.authenticate(session=session, email=form_data.username, password=form_data.password)
    if user is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Incorrect email or password")
    if not user.is_active:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Inactive user")
    expires = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    return Token(access_token=security.create_access_token(user.id, expires_delta=expires))


@router.post("/login/test-token", response_model=UserPublic, responses=responses(401, 403))
def test_token(current_user: CurrentUser) -> CurrentUser:
    """Test the access token."""
    return current_user


@router.post("/logout", responses=responses(401, 403))
def logout(session: SessionDep, current_user: CurrentUser, payload: TokenPayloadDep) -> Message:
    """Revoke the access token of this request (by its jti) until it expires."""
    # DEFECT(logout-revokes): not an app bug (both twins): it revokes the caller's token, which for the gates is their only credential; fixed twin: the same, and pyproject.toml keeps the operation away from the gates (exclude_operations)
    statement = (
        sqlite_insert(RevokedToken)
        .values(jti=payload.jti, expires_at=datetime.fromtimestamp(payload.exp, UTC))
        .on_conflict_do_nothing(index_elements=["jti"])  # a second logout with the same token is fine
    )
    session.exec(statement)  # type: ignore[call-overload]
    session.commit()
    return Message(message=f"Logged out {current_user.email}")
