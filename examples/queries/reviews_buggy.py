"""Products with their average rating, the N+1 way (Flask, plain sqlite3): one query for the
products, then one per product for its reviews. 12 products: 13 statements, 12 of one shape."""

from __future__ import annotations

import sqlite3

from flask import Flask, jsonify

from _shop_db import create_database

app = Flask(__name__)
DATABASE = create_database()


@app.get("/products")
def list_products():  # type: ignore[no-untyped-def]
    with sqlite3.connect(DATABASE) as db:
        products = db.execute("SELECT id, name FROM products ORDER BY id").fetchall()
        result = []
        for product_id, name in products:
            row = db.execute("SELECT AVG(stars), COUNT(*) FROM reviews WHERE product_id = ?", (product_id,)).fetchone()
            result.append({"id": product_id, "name": name, "rating": row[0], "reviews": row[1]})
    db.close()
    return jsonify(result)
