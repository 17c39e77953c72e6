"""An account service behind OAuth2 password login: the identity recipes' example."""

from __future__ import annotations

from fastapi import FastAPI

from _accounts import Accounts, add_account_routes

accounts = Accounts()
app = FastAPI(title="accounts")
add_account_routes(app, accounts)
