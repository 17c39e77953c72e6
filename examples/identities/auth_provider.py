"""A provider: any scheme a login table cannot describe (OAuth client credentials, cookies,
signed requests). Called in-process with the identity's name and a client of the service."""

from __future__ import annotations

import os


def alice_headers(identity: str, client) -> dict[str, str]:
    client.post("/auth/signup", json={"email": f"{identity}@example.com", "password": os.environ["ALICE_PW"]})
    answer = client.post("/auth/token", data={"username": f"{identity}@example.com",
                                              "password": os.environ["ALICE_PW"]})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
