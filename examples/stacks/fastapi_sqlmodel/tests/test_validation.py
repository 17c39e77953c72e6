"""Property-based input validation of the write operations (the plugin's `input_validation` fixture)."""

from __future__ import annotations

from typing import Any


def test_create_item_validates_its_body(input_validation: Any) -> None:
    input_validation.check_endpoint("POST /api/v1/items/", max_examples=30)


def test_create_tag_validates_its_body(input_validation: Any) -> None:
    input_validation.check_endpoint("POST /api/v1/tags/", max_examples=30)
