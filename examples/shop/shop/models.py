"""Request and response models (pydantic v2)."""

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# Largest id the API accepts: 2**53 - 1, the largest integer every JSON parser
# (JavaScript's Number included) reads exactly. SQLite's 2**63 - 1 is not a safe
# bound to publish: as a JSON Schema ``maximum`` it is read back as a double,
# 9223372036854775808.0, so clients (and fuzzers) round it to values above it.
MAX_ID = 2**53 - 1
MAX_PRICE = 1_000_000
MAX_STOCK = 1_000_000
MAX_ORDER_QUANTITY = 10_000
COUPON_PATTERN = r"^SAVE([1-9]|[1-4][0-9]|50)$"
# "Not blank": at least one character that is not whitespace. Spelled out instead of ``\S``
# because the regex dialects that read it disagree on what ``\s`` is: ECMA-262 (the
# dialect of OpenAPI, so of clients and fuzzers) counts U+FEFF and not U+0085, pydantic's
# Rust engine the other way round, so a name of just U+0085 was schema-valid but rejected.
# This class is Unicode White_Space plus U+FEFF, read the same by ECMA-262, Rust and Python.
NOT_BLANK_PATTERN = r"[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"


def _integral_float_to_int(value: object) -> object:
    """Read a JSON number with a zero fraction (``67.0``, ``1e2``) as the integer it is.

    JSON Schema (and so OpenAPI 3.1) counts ``67.0`` as an ``integer``, and many
    JSON encoders write whole numbers that way. Everything else is left to the
    strict ``int`` validation after this one, so ``67.5``, ``"67"`` and ``true``
    are still rejected.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Put last in ``Annotated[int, Field(...), WHOLE_NUMBER]``: an integer field then takes an int or
# a float without a fractional part, never a string or a bool. (Placed before ``Field``, pydantic
# would publish the bounds as "ge"/"le" instead of "minimum"/"maximum".)
WHOLE_NUMBER = BeforeValidator(_integral_float_to_int)

ItemName = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK_PATTERN, examples=["Widget"])]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE, allow_inf_nan=False, examples=[9.99])]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK, examples=[25]), WHOLE_NUMBER]


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

    item_id: Annotated[int, Field(ge=1, le=MAX_ID), WHOLE_NUMBER]
    quantity: Annotated[int, Field(ge=1, le=MAX_ORDER_QUANTITY), WHOLE_NUMBER]
    coupon: Annotated[str | None, Field(pattern=COUPON_PATTERN, examples=["SAVE10"])] = None


class Order(BaseModel):
    id: int
    item_id: int
    item_name: str | None = Field(description="The item's name; null once the item was deleted")
    quantity: int
    unit_price: float
    total: float
    coupon: str | None


class Quote(BaseModel):
    """What an order would cost now: nothing is reserved."""

    item_id: int
    quantity: int
    coupon: str | None
    unit_price: float
    total: float
    in_stock: bool


class Error(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal["ok"]
