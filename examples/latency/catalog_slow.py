"""Catalog service with two latency defects (see README.md); catalog_fast.py is its fixed twin.

    GET /reports/{day}   sales report from a slow upstream
    GET /tags            every distinct tag of the catalog, in first-seen order
    GET /health
"""

from __future__ import annotations

from fastapi import FastAPI

from _catalog_data import PRODUCTS, fetch_sales_report

app = FastAPI(title="catalog")


@app.get("/reports/{day}")
async def report(day: str) -> dict[str, object]:
    # DEFECT: blocking-call: a synchronous call inside an async handler blocks the event
    # loop, so concurrent requests wait for each other (8 requests take 8x as long).
    return fetch_sales_report(day)


@app.get("/tags")
def tags() -> list[str]:
    # DEFECT: quadratic: `in` on a list scans it, for every tag: O(n^2) in the catalog size.
    seen: list[str] = []
    for product in PRODUCTS:
        for tag in product["tags"]:
            if tag not in seen:
                seen.append(tag)
    return seen


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
