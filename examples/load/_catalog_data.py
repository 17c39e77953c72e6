"""Shared by both catalog twins: an in-memory product catalog and its models."""

from __future__ import annotations

from pydantic import BaseModel

WORDS = ("lamp", "desk", "chair", "shelf", "sofa", "table", "stool", "bench", "rug", "mirror")


class Product(BaseModel):
    id: int
    name: str
    tags: list[str]


class SearchResult(BaseModel):
    query: str
    tags: list[str]
    count: int


class Summary(BaseModel):
    products: int
    tags: int


def make_catalog(size: int = 2000) -> dict[int, Product]:
    """`size` products, each with ten tags; many tags repeat across products."""
    catalog = {}
    for number in range(1, size + 1):
        word = WORDS[number % len(WORDS)]
        tags = [f"{WORDS[(number + k) % len(WORDS)]}-{(number * 7 + k) % 9000}" for k in range(10)]
        catalog[number] = Product(id=number, name=f"{word} {number}", tags=tags)
    return catalog


def slow_inventory_count(catalog: dict[int, Product]) -> int:
    """Stands in for a blocking client call (a legacy SDK, a synchronous DB driver): 200 ms."""
    import time

    time.sleep(0.2)
    return len(catalog)


async def inventory_count(catalog: dict[int, Product]) -> int:
    """The same call through an async client: 200 ms without holding the event loop."""
    import asyncio

    await asyncio.sleep(0.2)
    return len(catalog)
