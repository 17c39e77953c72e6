"""How the gates log in: `provider = "gates_auth:seeded_account"` in pyproject.toml.

Called in-process by pytest-backend-gates with the identity's name and an httpx client of the
service, once per run and again after a 401. It logs in the way the web client does
(fastapi-users' OAuth2 password form, `POST /auth/jwt/login`), then makes sure the token is the
seeded account's: a provider can check what a `login` table cannot, and a wrong account would
make every finding about "your own projects" meaningless.
"""

from __future__ import annotations

import os

import httpx

from fastapi_users_app.settings import SEED_EMAIL, SEED_USER_ID


# --8<-- [start:provider]
def seeded_account(identity: str, client: httpx.Client) -> dict[str, str]:
    password = os.environ.get("STACK_PASSWORD", "gates-password-1")
    answer = client.post("/auth/jwt/login", data={"username": SEED_EMAIL, "password": password})
    if answer.status_code != 200:
        raise RuntimeError(f"POST /auth/jwt/login as {SEED_EMAIL} answered {answer.status_code}: {answer.text[:200]}")
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    me = client.get("/users/me", headers=headers)
    if me.status_code != 200 or me.json().get("id") != str(SEED_USER_ID):
        raise RuntimeError(f"the token of {SEED_EMAIL} is not the seeded account's: GET /users/me answered "
                           f"{me.status_code}")
    return headers
# --8<-- [end:provider]
