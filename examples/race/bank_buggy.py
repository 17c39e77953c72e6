"""A bank account whose withdraw reads the balance, checks it, then writes it back.

Seeded defect (lost update): two withdrawals that run at once both read the old
balance; both pass the check, and the second write overwrites the first. Money
leaves the account twice while the balance drops once.
"""

from __future__ import annotations


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.history: list[int] = []

    def withdraw(self, amount: int) -> int:
        balance = self.balance  # read
        if amount > balance:  # check
            raise InsufficientFunds(f"balance {balance} < {amount}")
        self.history.append(-amount)
        self.balance = balance - amount  # write: overwrites any withdrawal made since the read
        return amount
