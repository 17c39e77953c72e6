"""Product catalog (FastAPI) -- the FIXED twin of ``catalog_buggy.py``, for the load gate.

The same service with both defects repaired, each marked ``# FIX:``:

- ``GET /search`` collects distinct tags in insertion order with a dict: linear.
- ``GET /summary`` awaits the async version of the slow call: it still takes
  200 ms, but no longer holds up the other requests.

Serve it with ``uvicorn catalog_fixed:app --app-dir examples/load``.
"""

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query

try:  # imported as part of a package
    from . import _catalog_data as data
except ImportError:  # imported from this directory
    import _catalog_data as data  # type: ignore[no-redef]

app = FastAPI(title="Catalog (fixed)")
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
    tags = list(dict.fromkeys(tag for product in matching for tag in product.tags))  # FIX: linear
    return data.SearchResult(query=q, tags=tags, count=len(matching))


@app.get("/summary", response_model=data.Summary)
async def summary() -> data.Summary:
    count = await data.inventory_count(CATALOG)  # FIX: the async client, the event loop stays free
    return data.Summary(products=count, tags=sum(len(p.tags) for p in CATALOG.values()))
