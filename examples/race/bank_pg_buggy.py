"""The bank account on PostgreSQL: SELECT the balance, check it in Python, UPDATE it.

Seeded defect (lost update across transactions): under READ COMMITTED two
transactions both read the old balance and both write balance - amount; one
withdrawal vanishes. `dsn` comes from the BACKEND_GATES_PG_DSN environment variable.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg


class InsufficientFunds(Exception):
    pass


class Bank:
    def __init__(self, dsn: str, balance: int) -> None:
        self.dsn = dsn
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        # A table of its own, so that parallel test runs on one server do not meet.
        self.table = f"accounts_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {self.table} (id int PRIMARY KEY, balance bigint NOT NULL)")
            conn.execute(f"INSERT INTO {self.table} VALUES (1, %s)", (balance,))

    def connection(self) -> Any:
        """One connection per thread, as a web server's worker would hold."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = psycopg.connect(self.dsn)
            with self._lock:
                self._connections.append(conn)
        return conn

    def withdraw(self, amount: int) -> int:
        conn = self.connection()
        with conn.transaction():
            (balance,) = conn.execute(self.READ.format(table=self.table), (1,)).fetchone()
            if amount > balance:
                raise InsufficientFunds(f"balance {balance} < {amount}")
            conn.execute(f"UPDATE {self.table} SET balance = %s WHERE id = %s", (balance - amount, 1))
        return amount

    READ = "SELECT balance FROM {table} WHERE id = %s"

    def balance(self) -> int:
        with psycopg.connect(self.dsn) as conn:
            return int(conn.execute(f"SELECT balance FROM {self.table} WHERE id = 1").fetchone()[0])

    def close(self) -> None:
        for conn in self._connections:
            conn.close()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self.table}")
