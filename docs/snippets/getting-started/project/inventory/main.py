"""A small service: the project docs/getting-started.md puts under the gates."""

import itertools

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="inventory")

ITEMS: dict[int, "Item"] = {}
IDS = itertools.count(1)  # next() is atomic: two creates at once never share an id


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=50, strict=True)
    quantity: int = Field(ge=0, le=10_000)

    @field_validator("quantity", mode="before")
    @classmethod
    def not_a_boolean(cls, value: object) -> object:
        if isinstance(value, bool):  # pydantic takes `false` for 0; the schema says integer
            raise ValueError("quantity is an integer, not a boolean")
        return value


class Item(NewItem):
    id: int


@app.get("/items")
def list_items() -> list[Item]:
    return list(ITEMS.values())


@app.post("/items", status_code=201, responses={400: {"description": "a body that is not JSON"}})
def create_item(item: NewItem) -> Item:
    created = Item(id=next(IDS), **item.model_dump())
    ITEMS[created.id] = created
    return created


@app.get("/items/{item_id}", responses={404: {"description": "no such item"}})
def get_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(404, "no such item")
    return ITEMS[item_id]
