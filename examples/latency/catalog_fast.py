"""Catalog service, the fixed twin of catalog_slow.py (see README.md).

    GET /reports/{day}   sales report from a slow upstream
    GET /tags            every distinct tag of the catalog, in first-seen order
    GET /health
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from _catalog_data import PRODUCTS, fetch_sales_report

app = FastAPI(title="catalog")


@app.get("/reports/{day}")
async def report(day: str) -> dict[str, object]:
    # FIX: blocking-call: the synchronous client runs in the thread pool; the loop stays free.
    return await run_in_threadpool(fetch_sales_report, day)


@app.get("/tags")
def tags() -> list[str]:
    # FIX: quadratic: a dict keeps first-seen order and answers `in` in O(1).
    seen: dict[str, None] = {}
    for product in PRODUCTS:
        for tag in product["tags"]:
            seen.setdefault(tag, None)
    return list(seen)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
