"""FastAPI application: HTTP routes over the repository layer.

Run with ``uvicorn shop.main:app``; set ``SHOP_DB`` to a file path to persist data.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response, status

from shop import __version__
from shop.allow import complete_allow_headers
from shop.db import Database, ItemNotFound, OutOfStock, Row
from shop.models import MAX_ID, Error, Health, Item, ItemIn, Order, OrderIn
from shop.pricing import order_total

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "Item not found"}}
OUT_OF_STOCK: dict[int | str, dict[str, Any]] = {409: {"model": Error, "description": "Not enough stock"}}
# FastAPI answers 422 to malformed JSON but 400 to a body it cannot even decode (e.g. not UTF-8).
BAD_BODY: dict[int | str, dict[str, Any]] = {400: {"model": Error, "description": "Body could not be parsed"}}

router = APIRouter()


def get_db(request: Request) -> Database:
    return request.app.state.db


DB = Annotated[Database, Depends(get_db)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="Item identifier")]


def _found(item: Row | None, item_id: int) -> Row:
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")
    return item


@router.get("/health", response_model=Health, tags=["meta"])
def health(db: DB) -> dict[str, str]:
    db.ping()
    return {"status": "ok"}


@router.get("/items", response_model=list[Item], tags=["items"])
def list_items(
    db: DB,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")] = 0,
) -> list[Row]:
    return db.list_items(limit, offset)


@router.post(
    "/items", response_model=Item, status_code=status.HTTP_201_CREATED, responses=BAD_BODY, tags=["items"]
)
def create_item(item: ItemIn, db: DB) -> Row:
    return db.create_item(item.name, item.price, item.quantity)


@router.get("/items/{item_id}", response_model=Item, responses=NOT_FOUND, tags=["items"])
def get_item(item_id: ItemId, db: DB) -> Row:
    return _found(db.get_item(item_id), item_id)


@router.put("/items/{item_id}", response_model=Item, responses={**BAD_BODY, **NOT_FOUND}, tags=["items"])
def replace_item(item_id: ItemId, item: ItemIn, db: DB) -> Row:
    return _found(db.update_item(item_id, item.name, item.price, item.quantity), item_id)


@router.delete(
    "/items/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
    tags=["items"],
)
def delete_item(item_id: ItemId, db: DB) -> None:
    if not db.delete_item(item_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")


@router.post(
    "/orders",
    response_model=Order,
    status_code=status.HTTP_201_CREATED,
    responses={**BAD_BODY, **NOT_FOUND, **OUT_OF_STOCK},
    tags=["orders"],
)
def place_order(order: OrderIn, db: DB) -> Row:
    def price_total(unit_price: float) -> float:
        return float(order_total(unit_price, order.quantity, order.coupon))

    try:
        return db.place_order(order.item_id, order.quantity, order.coupon, price_total)
    except ItemNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {order.item_id} not found") from None
    except OutOfStock:
        raise HTTPException(status.HTTP_409_CONFLICT, f"not enough stock for item {order.item_id}") from None


def create_app(db_path: str | None = None) -> FastAPI:
    """Build an app with its own database: ``db_path``, else ``$SHOP_DB``, else in-memory."""
    db = Database(db_path or os.environ.get("SHOP_DB") or ":memory:")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    app = FastAPI(title="Shop example", version=__version__, lifespan=lifespan)
    app.state.db = db
    app.include_router(router)
    complete_allow_headers(app)
    app.middleware("http")(no_sniffing)
    return app


async def no_sniffing(request: Request, call_next: Any) -> Response:
    """Browsers must take our JSON as JSON, never sniff it into HTML or script."""
    response: Response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


app = create_app()
