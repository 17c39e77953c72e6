"""Wallet API (Flask) with two seeded races: account ids from len(accounts) + 1
(concurrent creates get the same id, one account overwrites the other) and a
read-check-write withdraw (lost updates). The schema is wallet_openapi.yaml."""

from _wallet import create_app

app = create_app(safe=False)
