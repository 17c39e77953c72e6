"""The wallet service shared by wallet_flask_buggy.py and wallet_flask_fixed.py."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from flask import Flask, jsonify, request


def create_app(safe: bool) -> Flask:
    app = Flask(__name__)
    accounts: dict[int, dict[str, Any]] = {}
    lock = threading.Lock() if safe else None
    ids = itertools.count(1)

    @app.post("/accounts")
    def create_account() -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("owner"), str) or not data["owner"] \
                or type(data.get("balance")) is not int or data["balance"] < 0:
            return jsonify(detail="expected {owner: non-empty string, balance: integer >= 0}"), 400
        # buggy: the id is the count of accounts + 1; fixed: an atomic counter
        account_id = next(ids) if safe else len(accounts) + 1
        account = {"id": account_id, "owner": data["owner"], "balance": data["balance"]}
        accounts[account_id] = account
        return jsonify(account), 201, {"Location": f"/accounts/{account_id}"}

    @app.get("/accounts/<int:account_id>")
    def get_account(account_id: int) -> Any:
        if account_id not in accounts:
            return jsonify(detail="no such account"), 404
        return jsonify(accounts[account_id])

    @app.post("/accounts/<int:account_id>/withdraw")
    def withdraw(account_id: int) -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or type(data.get("amount")) is not int or data["amount"] <= 0:
            return jsonify(detail="expected {amount: integer > 0}"), 400
        if account_id not in accounts:
            return jsonify(detail="no such account"), 404
        if lock is not None:
            with lock:
                return _withdraw(accounts[account_id], data["amount"])
        return _withdraw(accounts[account_id], data["amount"])

    return app


def _withdraw(account: dict[str, Any], amount: int) -> Any:
    balance = account["balance"]
    if amount > balance:
        return jsonify(detail="insufficient funds"), 409
    account["balance"] = balance - amount
    return jsonify(account)
