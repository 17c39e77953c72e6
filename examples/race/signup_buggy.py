"""User sign-up on SQLite: "is the username taken?", then insert.

Seeded defect (check-then-act): two sign-ups for the same name that run at once
both see it free and both insert it. The table has no UNIQUE constraint.
"""

from __future__ import annotations

import sqlite3
import threading


class UsernameTaken(Exception):
    pass


class Users:
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        self._write = threading.Lock()  # one writer at a time, as SQLite itself allows

    def register(self, name: str) -> str:
        taken = self.db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
        if taken:
            raise UsernameTaken(name)
        with self._write:
            self.db.execute("INSERT INTO users (name) VALUES (?)", (name,))
        return name

    def try_register(self, name: str) -> str:
        try:
            return self.register(name)
        except UsernameTaken:
            return "taken"

    def count(self, name: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM users WHERE name = ?", (name,)).fetchone()[0])
