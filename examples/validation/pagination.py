"""Pagination query parameters of a list endpoint (a pydantic model) and the window they select.

- `page_window` (fixed): validates with `PaginationParams`, then computes the
  offset and limit.
- `page_window_buggy`: the hand-rolled version that predates the model:
  int(params.get("page", 1)). It accepts page 0 and negative pages (a negative
  OFFSET), sizes of 0, fractional numbers (int(1.5) == 1), and crashes with
  TypeError or AttributeError instead of rejecting a null or a non-object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PaginationParams(BaseModel):
    page: int = Field(1, ge=1, le=10_000)
    size: int = Field(20, ge=1, le=100)
    sort: Literal["created", "-created", "name", "-name"] = "created"


def page_window(params: object) -> tuple[int, int, str]:
    """(offset, limit, ORDER BY clause) for a page of results."""
    p = PaginationParams.model_validate(params)
    order = f"{p.sort.lstrip('-')} {'DESC' if p.sort.startswith('-') else 'ASC'}"
    return (p.page - 1) * p.size, p.size, order


def page_window_buggy(params: dict[str, object]) -> tuple[int, int, str]:
    page = int(params.get("page", 1))  # type: ignore[call-overload]
    size = min(int(params.get("size", 20)), 100)  # type: ignore[call-overload]
    sort = str(params.get("sort", "created"))
    if sort.lstrip("-") not in ("created", "name"):
        raise ValueError(f"cannot sort by {sort!r}")
    return (page - 1) * size, size, f"{sort.lstrip('-')} {'DESC' if sort.startswith('-') else 'ASC'}"
