"""SQLite schema and a small repository layer (parameterised SQL only)."""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    price REAL NOT NULL CHECK (price > 0),
    quantity INTEGER NOT NULL CHECK (quantity >= 0)
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL,
    total REAL NOT NULL,
    coupon TEXT
);
"""
ITEM_COLUMNS = "id, name, price, quantity"

Row = dict[str, Any]


class ItemNotFound(LookupError):
    """No item with the requested id."""


class OutOfStock(Exception):
    """The item exists but has fewer units than requested."""


class Database:
    """One lazily opened connection per instance, serialised by a lock.

    FastAPI runs sync routes in a thread pool, so every access goes through
    :meth:`transaction`. ``":memory:"`` gives each instance a private database.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection; commit on success, roll back on error."""
        with self._lock:
            if self._conn is None:
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
                conn.row_factory = sqlite3.Row
                conn.executescript(SCHEMA)
                self._conn = conn
            with self._conn:
                yield self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def ping(self) -> None:
        with self.transaction() as conn:
            conn.execute("SELECT 1").fetchone()

    def list_items(self, limit: int, offset: int) -> list[Row]:
        with self.transaction() as conn:
            rows = conn.execute(
                f"SELECT {ITEM_COLUMNS} FROM items ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [dict(row) for row in rows]

    def get_item(self, item_id: int) -> Row | None:
        with self.transaction() as conn:
            row = conn.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else dict(row)

    def create_item(self, name: str, price: float, quantity: int) -> Row:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO items (name, price, quantity) VALUES (?, ?, ?)", (name, price, quantity)
            )
        return {"id": cur.lastrowid, "name": name, "price": price, "quantity": quantity}

    def update_item(self, item_id: int, name: str, price: float, quantity: int) -> Row | None:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE items SET name = ?, price = ?, quantity = ? WHERE id = ?",
                (name, price, quantity, item_id),
            )
        if cur.rowcount == 0:
            return None
        return {"id": item_id, "name": name, "price": price, "quantity": quantity}

    def delete_item(self, item_id: int) -> bool:
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
        return cur.rowcount > 0

    def place_order(
        self, item_id: int, quantity: int, coupon: str | None, price_total: Callable[[float], float]
    ) -> Row:
        """Take ``quantity`` units from stock and record the order, atomically.

        ``price_total`` maps the unit price to the order total. Raises
        :class:`ItemNotFound` or :class:`OutOfStock`; nothing is written then.
        """
        with self.transaction() as conn:
            taken = conn.execute(
                "UPDATE items SET quantity = quantity - ? WHERE id = ? AND quantity >= ?",
                (quantity, item_id, quantity),
            ).rowcount
            row = conn.execute("SELECT price FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise ItemNotFound(item_id)
            if taken == 0:
                raise OutOfStock(item_id)
            unit_price: float = row["price"]
            total = price_total(unit_price)
            cur = conn.execute(
                "INSERT INTO orders (item_id, quantity, unit_price, total, coupon) VALUES (?, ?, ?, ?, ?)",
                (item_id, quantity, unit_price, total, coupon),
            )
        return {
            "id": cur.lastrowid,
            "item_id": item_id,
            "quantity": quantity,
            "unit_price": unit_price,
            "total": total,
            "coupon": coupon,
        }
