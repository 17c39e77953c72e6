"""Tables and seed rows at start-up, safe when several processes start at once.

Rows are inserted with fixed ids and ``INSERT ... ON CONFLICT DO NOTHING``: a row
that exists (seeded by an earlier start, or by a process starting beside this
one) is left as it is, and SQLite's write lock serialises the inserts.
"""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import text
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import OperationalError
from werkzeug.security import generate_password_hash

from .config import SEED_EMAIL
from .db import db
from .models import ItemModel, StoreModel, TagModel, UserModel, items_tags

STORES = [
    "Downtown Hardware", "Harbour Books", "Hilltop Groceries", "Riverside Garden Centre",
    "Old Town Bakery", "Northside Electronics", "Lakeside Outfitters", "Market Street Deli",
]
ITEMS_PER_STORE = [("Starter kit", 19.99), ("Gift card", 25.0), ("Tote bag", 7.5)]
TAGS_PER_STORE = ["sale", "new"]


def create_tables(attempts: int = 5) -> None:
    """``create_all`` checks, then creates: a process starting beside this one may create a table in between."""
    for attempt in range(attempts):
        try:
            db.create_all()
            return
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def seed(app: Flask) -> None:
    if db.engine.dialect.name == "sqlite" and db.engine.url.database not in (None, "", ":memory:"):
        # Readers do not wait for the writer (WAL), so concurrent requests block only each other's writes.
        db.session.execute(text("PRAGMA journal_mode=WAL"))
    users = [{
        "id": 1,
        "email": SEED_EMAIL,
        "password": generate_password_hash(app.config["STACK_PASSWORD"]),
        "is_admin": True,
    }]
    stores, items, tags, links = [], [], [], []
    for store_number, store_name in enumerate(STORES, start=1):
        stores.append({"id": store_number, "name": store_name})
        first_item = (store_number - 1) * len(ITEMS_PER_STORE) + 1
        for offset, (item_name, price) in enumerate(ITEMS_PER_STORE):
            items.append({"id": first_item + offset, "name": item_name, "price": price, "store_id": store_number,
                          "description": f"{item_name} from {store_name}"})
        first_tag = (store_number - 1) * len(TAGS_PER_STORE) + 1
        for offset, tag_name in enumerate(TAGS_PER_STORE):
            tags.append({"id": first_tag + offset, "name": tag_name, "store_id": store_number})
        links += [
            {"item_id": first_item, "tag_id": first_tag},
            {"item_id": first_item + 1, "tag_id": first_tag},
            {"item_id": first_item + 1, "tag_id": first_tag + 1},
        ]
    for table, rows in ((UserModel, users), (StoreModel, stores), (ItemModel, items), (TagModel, tags),
                        (items_tags, links)):
        db.session.execute(insert(table).values(rows).on_conflict_do_nothing())
    db.session.commit()
