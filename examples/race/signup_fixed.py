"""The fixed twin of signup_buggy.py: the database enforces uniqueness (a UNIQUE
constraint); the insert itself is the check."""

from __future__ import annotations

import sqlite3
import threading


class UsernameTaken(Exception):
    pass


class Users:
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        self._write = threading.Lock()

    def register(self, name: str) -> str:
        try:
            with self._write:
                self.db.execute("INSERT INTO users (name) VALUES (?)", (name,))
        except sqlite3.IntegrityError:
            raise UsernameTaken(name) from None
        return name

    def try_register(self, name: str) -> str:
        try:
            return self.register(name)
        except UsernameTaken:
            return "taken"

    def count(self, name: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM users WHERE name = ?", (name,)).fetchone()[0])
