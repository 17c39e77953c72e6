"""The fixed twin of bank_pg_buggy.py: `SELECT ... FOR UPDATE` locks the row for the
rest of the transaction, so a second withdrawal waits and then reads the new balance."""

from __future__ import annotations

from bank_pg_buggy import Bank as _Bank
from bank_pg_buggy import InsufficientFunds

__all__ = ["Bank", "InsufficientFunds"]


class Bank(_Bank):
    READ = "SELECT balance FROM {table} WHERE id = %s FOR UPDATE"
