"""The fixed twin of bank_buggy.py: read, check and write under one lock."""

from __future__ import annotations

import threading


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.history: list[int] = []
        self._lock = threading.Lock()

    def withdraw(self, amount: int) -> int:
        with self._lock:
            balance = self.balance
            if amount > balance:
                raise InsufficientFunds(f"balance {balance} < {amount}")
            self.history.append(-amount)
            self.balance = balance - amount
            return amount
