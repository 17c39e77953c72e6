"""The queries examples under test. QUERIES_VARIANT=buggy (the seeded N+1s) or fixed (the
twins, the default) picks the modules: `QUERIES_VARIANT=buggy pytest --backend-gates`."""

from __future__ import annotations

import importlib
import os

import pytest

VARIANT = os.environ.get("QUERIES_VARIANT", "fixed")
library = importlib.import_module(f"library_{VARIANT}")
reviews = importlib.import_module(f"reviews_{VARIANT}")


# --8<-- [start:budget]
@pytest.mark.query_budget(max=5, repeats=3)
def test_authors_endpoint_has_no_n_plus_one():
    authors = library.list_authors()
    assert len(authors) == 25 and all(len(a["books"]) == 2 for a in authors)
# --8<-- [end:budget]


# --8<-- [start:counter]
def test_products_page_runs_few_statements(query_counter):
    client = reviews.app.test_client()
    with query_counter:
        products = client.get("/products").get_json()
    assert len(products) == 12
    query_counter.assert_max(3, repeats=2)
# --8<-- [end:counter]
