from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from connexion.exceptions import OAuthProblem
from sqlalchemy import select

from ..db import db_session
from . import JsonResponse, json_response
from ..models import RevokedToken, User
from ..security import create_access_token, verify_password


def login(body: dict[str, Any]) -> JsonResponse:
    user = db_session.scalar(select(User).where(User.email == body["email"]))
    if user is None or not user.is_active or not verify_password(body["password"], user.password_hash):
        raise OAuthProblem(detail="Incorrect email or password")
    token, ttl = create_access_token(user.email)
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


def logout(token_info: dict[str, Any]) -> tuple[None, int]:
    """Ends the caller's token before it expires: its jti goes on the blocklist."""
    # DEFECT(logout-revokes): not an app bug, both twins have it: this real operation revokes the caller's token,
    # which for the gates is their own credentials; fixed twin: the same code; the gates' identity logs in
    # again after the next 401 (pyproject.toml, [tool.backend-gates.identities.gates]).
    expires_at = datetime.fromtimestamp(int(token_info["exp"]), tz=timezone.utc)
    db_session.merge(RevokedToken(jti=str(token_info["jti"]), expires_at=expires_at))
    db_session.commit()
    return None, 204


def me(token_info: dict[str, Any]) -> JsonResponse:
    user = db_session.get(User, token_info["uid"])
    if user is None:  # deleted after the token was checked
        raise OAuthProblem(detail="Unknown or inactive user")
    return json_response({"id": user.id, "email": user.email, "full_name": user.full_name})
