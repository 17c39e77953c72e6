"""Request and response models (pydantic v2)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**63 - 1  # SQLite INTEGER range
MAX_PRICE = 1_000_000
MAX_STOCK = 1_000_000
MAX_ORDER_QUANTITY = 10_000
COUPON_PATTERN = r"^SAVE([1-9]|[1-4][0-9]|50)$"

ItemName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S", examples=["Widget"])]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE, allow_inf_nan=False, examples=[9.99])]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK, examples=[25])]


class ItemIn(BaseModel):
    """Fields a client sends to create or replace an item."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: ItemName
    price: Price
    quantity: Stock


class Item(ItemIn):
    id: int


class OrderIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    item_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    quantity: Annotated[int, Field(ge=1, le=MAX_ORDER_QUANTITY)]
    coupon: Annotated[str | None, Field(pattern=COUPON_PATTERN, examples=["SAVE10"])] = None


class Order(BaseModel):
    id: int
    item_id: int
    quantity: int
    unit_price: float
    total: float
    coupon: str | None


class Error(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal["ok"]
