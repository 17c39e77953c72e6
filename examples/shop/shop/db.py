"""SQLite schema and a small repository layer (parameterised SQL only)."""

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from shop.twin import DEFECTS

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
ORDER_COLUMNS = "id, item_id, quantity, unit_price, total, coupon"

Row = dict[str, Any]
Catalog = Iterable[tuple[str, float, int]]


class ItemNotFound(LookupError):
    """No item with the requested id."""


class OutOfStock(Exception):
    """The item exists but has fewer units than requested."""


class Database:
    """One lazily opened connection per instance, serialised by a lock.

    FastAPI runs sync routes in a thread pool, so every access goes through
    :meth:`transaction`. ``":memory:"`` gives each instance a private database.
    ``catalog`` rows are inserted when the database has no item yet (a new one).
    """

    def __init__(self, path: str = ":memory:", catalog: Catalog = ()) -> None:
        self.path = path
        self.catalog = tuple(catalog)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection; commit on success, roll back on error."""
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            with self._conn:
                yield self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        conn.row_factory = sqlite3.Row
        conn.executescript(SCHEMA)
        if self.catalog and conn.execute("SELECT 1 FROM items LIMIT 1").fetchone() is None:
            with conn:  # one statement for the whole catalog, not one per row
                conn.executemany("INSERT INTO items (name, price, quantity) VALUES (?, ?, ?)", self.catalog)
        return conn

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

    def list_orders(self, limit: int, offset: int) -> list[Row]:
        """Orders, newest first, each with its item's name (None once the item was deleted)."""
        with self.transaction() as conn:
            if DEFECTS:  # DEFECT(n-plus-one)
                # DEFECT(n-plus-one): the orders in one SELECT, then each order's item name in one more:
                # a page of 20 orders is 21 statements. The queries gate finds it (n-plus-one on
                # GET /orders, and in the query_budget test of tests/test_orders.py).
                orders = [dict(row) for row in conn.execute(
                    f"SELECT {ORDER_COLUMNS} FROM orders ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))]
                for order in orders:
                    item = conn.execute("SELECT name FROM items WHERE id = ?", (order["item_id"],)).fetchone()
                    order["item_name"] = None if item is None else item["name"]
            else:  # FIX(n-plus-one)
                # FIX(n-plus-one): the names come with the orders, in one statement for any page size.
                orders = [dict(row) for row in conn.execute(
                    "SELECT o.id, o.item_id, i.name AS item_name, o.quantity, o.unit_price, o.total, o.coupon"
                    " FROM orders AS o LEFT JOIN items AS i ON i.id = o.item_id"
                    " ORDER BY o.id DESC LIMIT ? OFFSET ?", (limit, offset))]
        return orders

    def place_order(
        self, item_id: int, quantity: int, coupon: str | None, price_total: Callable[[float], float]
    ) -> Row:
        """Take ``quantity`` units from stock and record the order, atomically.

        ``price_total`` maps the unit price to the order total. Raises
        :class:`ItemNotFound` or :class:`OutOfStock`; nothing is written then.
        """
        if DEFECTS:  # DEFECT(oversell)
            # DEFECT(oversell): check, then act. The stock is read in one transaction and
            # `stock - quantity` written in another: two orders at once both read 10 units, both pass
            # the check and both write 9, so two units are sold and one leaves the stock (a lost
            # update; sold out items keep selling). The race gate's probe of
            # tests/test_concurrency.py finds it.
            with self.transaction() as conn:
                row = conn.execute("SELECT name, price, quantity FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise ItemNotFound(item_id)
            if row["quantity"] < quantity:
                raise OutOfStock(item_id)
            with self.transaction() as conn:
                conn.execute("UPDATE items SET quantity = ? WHERE id = ?", (row["quantity"] - quantity, item_id))
                total = price_total(row["price"])
                cur = conn.execute(
                    "INSERT INTO orders (item_id, quantity, unit_price, total, coupon) VALUES (?, ?, ?, ?, ?)",
                    (item_id, quantity, row["price"], total, coupon),
                )
        else:  # FIX(oversell)
            # FIX(oversell): one transaction, and the database does the check: the UPDATE takes the units
            # only WHERE enough are left, so concurrent orders can never take the same ones.
            with self.transaction() as conn:
                taken = conn.execute(
                    "UPDATE items SET quantity = quantity - ? WHERE id = ? AND quantity >= ?",
                    (quantity, item_id, quantity),
                ).rowcount
                row = conn.execute("SELECT name, price FROM items WHERE id = ?", (item_id,)).fetchone()
                if row is None:
                    raise ItemNotFound(item_id)
                if taken == 0:
                    raise OutOfStock(item_id)
                total = price_total(row["price"])
                cur = conn.execute(
                    "INSERT INTO orders (item_id, quantity, unit_price, total, coupon) VALUES (?, ?, ?, ?, ?)",
                    (item_id, quantity, row["price"], total, coupon),
                )
        return {
            "id": cur.lastrowid,
            "item_id": item_id,
            "item_name": row["name"],
            "quantity": quantity,
            "unit_price": row["price"],
            "total": total,
            "coupon": coupon,
        }
