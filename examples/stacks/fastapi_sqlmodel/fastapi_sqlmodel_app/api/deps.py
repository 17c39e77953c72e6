"""Request dependencies: the database session and the authenticated user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import ValidationError
from sqlmodel import Session

from fastapi_sqlmodel_app.core import db
from fastapi_sqlmodel_app.core.config import settings
from fastapi_sqlmodel_app.core.security import decode_access_token
from fastapi_sqlmodel_app.models import MAX_ID, RevokedToken, TokenPayload, User

reusable_oauth2 = OAuth2PasswordBearer(tokenUrl=f"{settings.API_V1_STR}/login/access-token")


def get_db() -> Iterator[Session]:
    yield from db.get_session()


SessionDep = Annotated[Session, Depends(get_db)]
TokenDep = Annotated[str, Depends(reusable_oauth2)]


def _unauthorized(detail: str = "Could not validate credentials") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def get_token_payload(token: TokenDep) -> TokenPayload:
    try:
        return TokenPayload.model_validate(decode_access_token(token))
    except (jwt.InvalidTokenError, ValidationError):
        raise _unauthorized() from None


TokenPayloadDep = Annotated[TokenPayload, Depends(get_token_payload)]


def get_current_user(session: SessionDep, payload: TokenPayloadDep) -> User:
    if session.get(RevokedToken, payload.jti) is not None:
        raise _unauthorized("Token has been revoked")
    user_id = int(payload.sub) if payload.sub.isascii() and payload.sub.isdigit() else 0
    user = session.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    if user is None:
        raise _unauthorized()
    if not user.is_active:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Inactive user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_active_superuser(current_user: CurrentUser) -> User:
    if not current_user.is_superuser:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "The user doesn't have enough privileges")
    return current_user
