"""Shared by ``orders_fastapi_buggy.py`` and ``orders_fastapi_fixed.py``: an in-memory order
book, the bearer-token check and the models. The twins differ only in how they use them."""

from __future__ import annotations

import os
import secrets
import threading
from typing import Annotated, Any, Literal

from fastapi import HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# The one API token of this demo; a real service would look tokens up. Tests set ORDERS_API_TOKEN.
API_TOKEN = os.environ.get("ORDERS_API_TOKEN", "demo-token")
MAX_ID = 2**53 - 1
OrderId = Annotated[int, Field(ge=1, le=MAX_ID, examples=[1])]
Status = Literal["pending", "paid", "shipped", "refunded"]


class Order(BaseModel):
    id: int
    item: str
    quantity: int
    status: Status
    total_cents: int


def _json_integer(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


class OrderUpdateStrict(BaseModel):
    """What a customer may change before the order is paid."""

    model_config = ConfigDict(extra="ignore")

    item: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    # strict: `true` or "3" is not a quantity (lax pydantic would take them as 1 and 3); 3.0 is (JSON Schema)
    quantity: Annotated[int, Field(ge=1, le=1000, strict=True), BeforeValidator(_json_integer)] | None = None


class Revenue(BaseModel):
    orders: int
    total_cents: int


class Error(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal["ok"]


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": Error, "description": "Missing or wrong API token"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "No such order"}}

PRICE_CENTS = 1250
COLUMNS = ("item", "quantity", "status", "total_cents")  # what the store can update (never id)


class OrderBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[int, dict[str, Any]] = {
            1: {"id": 1, "item": "coffee beans", "quantity": 2, "status": "paid", "total_cents": 2 * PRICE_CENTS},
            2: {"id": 2, "item": "grinder", "quantity": 1, "status": "pending", "total_cents": PRICE_CENTS},
        }

    def get(self, order_id: int) -> dict[str, Any] | None:
        with self._lock:
            order = self._orders.get(order_id)
            return dict(order) if order else None

    def update(self, order_id: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            order.update({key: value for key, value in fields.items() if key in COLUMNS})
            if "quantity" in fields and "total_cents" not in fields:
                order["total_cents"] = order["quantity"] * PRICE_CENTS
            return dict(order)

    def revenue(self) -> dict[str, int]:
        with self._lock:
            paid = [o for o in self._orders.values() if o["status"] in ("paid", "shipped")]
            return {"orders": len(paid), "total_cents": sum(o["total_cents"] for o in paid)}


def check_token(credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None or not secrets.compare_digest(credentials.credentials, API_TOKEN):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong API token",
                            headers={"WWW-Authenticate": "Bearer"})
