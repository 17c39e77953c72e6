"""The bank account on PostgreSQL: SELECT the balance, check it in Python, UPDATE it.

Seeded defect (lost update across transactions): under READ COMMITTED two
transactions both read the old balance and both write balance - amount; one
withdrawal vanishes. `dsn` comes from the BACKEND_GATES_PG_DSN environment variable.
"""

from __future__ import annotations

import threading
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
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS accounts")
            conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)")
            conn.execute("INSERT INTO accounts VALUES (1, %s)", (balance,))

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
            (balance,) = conn.execute(self.READ, (1,)).fetchone()
            if amount > balance:
                raise InsufficientFunds(f"balance {balance} < {amount}")
            conn.execute("UPDATE accounts SET balance = %s WHERE id = %s", (balance - amount, 1))
        return amount

    READ = "SELECT balance FROM accounts WHERE id = %s"

    def balance(self) -> int:
        with psycopg.connect(self.dsn) as conn:
            return int(conn.execute("SELECT balance FROM accounts WHERE id = 1").fetchone()[0])

    def close(self) -> None:
        for conn in self._connections:
            conn.close()
