"""Shared by ``reviews_buggy.py`` and ``reviews_fixed.py``: a SQLite file of products and their
reviews (plain sqlite3, no ORM), created fresh in a temporary directory."""

from __future__ import annotations

import os
import sqlite3
import tempfile

PRODUCTS = 12


def create_database() -> str:
    path = os.path.join(tempfile.mkdtemp(prefix="reviews-"), "shop.sqlite3")
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE reviews (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES products(id),
                                  stars INTEGER NOT NULL);
            CREATE INDEX reviews_product ON reviews (product_id);
        """)
        for number in range(1, PRODUCTS + 1):
            db.execute("INSERT INTO products (id, name) VALUES (?, ?)", (number, f"Product {number}"))
            db.executemany("INSERT INTO reviews (product_id, stars) VALUES (?, ?)",
                           [(number, 1 + (number + i) % 5) for i in range(3)])
    db.close()
    return path
