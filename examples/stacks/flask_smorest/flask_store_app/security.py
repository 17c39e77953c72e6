"""Who is calling: the JWT's user, admin checks."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import JWTManager, current_user
from flask_smorest import abort
from sqlalchemy import select

from .db import db
from .models import TokenBlocklist, UserModel


def register_user_loaders(jwt: JWTManager) -> None:
    @jwt.user_lookup_loader
    def load_user(_header: dict[str, Any], payload: dict[str, Any]) -> UserModel | None:
        subject = payload.get("sub")
        if not isinstance(subject, str) or not subject.isdecimal() or len(subject) > 10:
            return None
        return db.session.get(UserModel, int(subject))

    @jwt.token_in_blocklist_loader
    def token_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        jti = payload.get("jti")
        if not isinstance(jti, str):
            return True
        return db.session.scalar(select(TokenBlocklist.id).where(TokenBlocklist.jti == jti)) is not None


def require_admin() -> UserModel:
    user: UserModel = current_user
    if not user.is_admin:
        abort(403, message="Admin privilege required.")
    return user
