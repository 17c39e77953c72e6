"""fastapi-users wiring: user manager, JWT bearer backend with a revocation denylist."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi_users import (
    BaseUserManager,
    FastAPIUsers,
    InvalidPasswordException,
    UUIDIDMixin,
    exceptions,
    models,
)
from fastapi_users.authentication import (
    AuthenticationBackend,
    BearerTransport,
    JWTStrategy,
)
from fastapi_users.jwt import generate_jwt
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .db import RevokedToken, User, get_async_session, get_user_db, utcnow
from .schemas import UserCreate, UserUpdate
from .settings import settings

logger = logging.getLogger(__name__)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = settings.secret_key
    verification_token_secret = settings.secret_key

    async def validate_password(self, password: str, user: UserCreate | User) -> None:
        if len(password) < 8:
            raise InvalidPasswordException(reason="Password should be at least 8 characters")
        if user.email and user.email.lower() in password.lower():
            raise InvalidPasswordException(reason="Password should not contain the e-mail address")

    async def create(self, user_create: UserCreate, safe: bool = False, request: Request | None = None) -> User:
        # fastapi-users checks "is the e-mail taken?" and then inserts: two sign-ups with one
        # address at once both pass the check. The UNIQUE index decides; the loser gets the
        # same answer as a sequential duplicate.
        try:
            return await super().create(user_create, safe, request)
        except IntegrityError:
            await self.user_db.session.rollback()  # type: ignore[attr-defined]
            raise exceptions.UserAlreadyExists() from None

    async def update(
        self, user_update: UserUpdate, user: User, safe: bool = False, request: Request | None = None
    ) -> User:
        try:
            return await super().update(user_update, user, safe, request)
        except IntegrityError:
            await self.user_db.session.rollback()  # type: ignore[attr-defined]
            raise exceptions.UserAlreadyExists() from None

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.info("user %s registered", user.id)

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        logger.info("password reset requested for user %s; e-mail queued", user.id)

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        logger.info("verification requested for user %s; e-mail queued", user.id)


async def get_user_manager(
    user_db: Annotated[SQLAlchemyUserDatabase, Depends(get_user_db)],
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DenylistJWTStrategy(JWTStrategy[User, uuid.UUID]):
    """fastapi-users' JWT strategy cannot revoke a token; logout puts the token on a denylist."""

    def __init__(self, session: AsyncSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    async def write_token(self, user: User) -> str:
        # Every login gets a token of its own (a jti): fastapi-users' claims alone (sub, aud, exp in
        # whole seconds) give two logins of one user within a second the same token, and logging
        # one of them out would end the other session too.
        data = {"sub": str(user.id), "aud": self.token_audience, "jti": uuid.uuid4().hex}
        return generate_jwt(data, self.encode_key, self.lifetime_seconds, algorithm=self.algorithm)

    async def read_token(self, token: str | None, user_manager: BaseUserManager[User, uuid.UUID]) -> User | None:
        user = await super().read_token(token, user_manager)
        if user is None or token is None:
            return None
        revoked = await self.session.scalar(
            select(RevokedToken.token_sha256).where(RevokedToken.token_sha256 == token_digest(token))
        )
        return None if revoked is not None else user

    async def destroy_token(self, token: str, user: models.UP) -> None:
        # DEFECT(logout-revokes): POST /auth/jwt/logout puts the caller's token on the denylist, so a gate that calls it loses its own credentials for the rest of the run (not an app bug); fixed twin: the same, both twins revoke; the operation is kept away from the gates with exclude_operations in pyproject.toml.
        try:
            exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError:
            exp = None
        expires_at = datetime.fromtimestamp(exp, UTC) if isinstance(exp, (int, float)) else None
        await self.session.execute(
            sqlite_insert(RevokedToken)
            .values(token_sha256=token_digest(token), expires_at=expires_at)
            .on_conflict_do_nothing()
        )
        # Entries of tokens that expired anyway are no longer needed.
        await self.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
        await self.session.commit()


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


def get_jwt_strategy(session: Annotated[AsyncSession, Depends(get_async_session)]) -> DenylistJWTStrategy:
    return DenylistJWTStrategy(
        session, secret=settings.secret_key, lifetime_seconds=settings.access_token_lifetime_seconds
    )


auth_backend = AuthenticationBackend(name="jwt", transport=bearer_transport, get_strategy=get_jwt_strategy)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

current_active_user = fastapi_users.current_user(active=True)
