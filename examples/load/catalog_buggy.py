"""Product catalog (FastAPI) -- the BUGGY twin of ``catalog_fixed.py``, for the load gate.

Two performance defects that every functional test passes, each marked ``# DEFECT:``:

- ``GET /search``: collecting the distinct tags of the matching products with
  ``if tag not in seen_list`` is accidentally quadratic (8000 tags -> ~30 M
  comparisons per request).
- ``GET /summary``: a blocking 200 ms call inside an ``async def`` handler
  stalls the event loop, so *every other* request waits behind it: the
  fast endpoints get slow under load too.

Serve it with ``uvicorn catalog_buggy:app --app-dir examples/load``.
"""

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query

try:  # imported as part of a package
    from . import _catalog_data as data
except ImportError:  # imported from this directory
    import _catalog_data as data  # type: ignore[no-redef]

app = FastAPI(title="Catalog (buggy)")
CATALOG = data.make_catalog()


@app.get("/products/{product_id}", response_model=data.Product)
async def get_product(product_id: Annotated[int, Path(ge=1, examples=[1])]) -> data.Product:
    product = CATALOG.get(product_id)
    if product is None:
        raise HTTPException(status_code=404, detail="no such product")
    return product


@app.get("/search", response_model=data.SearchResult)
def search(q: Annotated[str, Query(min_length=1, examples=["e"])]) -> data.SearchResult:
    matching = [p for p in CATALOG.values() if q in p.name]
    tags: list[str] = []
    for product in matching:
        for tag in product.tags:
            if tag not in tags:  # DEFECT: quadratic: a list membership test inside the loop
                tags.append(tag)
    return data.SearchResult(query=q, tags=tags, count=len(matching))


@app.get("/summary", response_model=data.Summary)
async def summary() -> data.Summary:
    count = data.slow_inventory_count(CATALOG)  # DEFECT: blocking call inside an async handler
    return data.Summary(products=count, tags=sum(len(p.tags) for p in CATALOG.values()))
