# The providers of docs/auth.md, as tests/gates_auth.py of the recipes' project
# (tests/test_docs_snippets.py runs each against docs/snippets/auth/notes_app.py).
import os

from notes_app import create_access_token, create_user


# --8<-- [start:session_cookie]
def session_cookie(identity, client):
    answer = client.post("/login", data={"username": "gates", "password": os.environ["GATES_PW"]})
    answer.raise_for_status()
    return {"Cookie": f"session={answer.cookies['session']}"}
# --8<-- [end:session_cookie]


# --8<-- [start:in_memory]
def gates_user(identity, client):
    user = create_user(f"{identity}@example.com", password="not-used-1234")  # in this very process
    return {"Authorization": f"Bearer {create_access_token(user)}"}
# --8<-- [end:in_memory]
