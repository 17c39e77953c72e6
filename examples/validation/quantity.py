"""Parsing the quantity field of an order line: a positive whole number of at most 4 digits.

`parse_quantity` is the fixed twin. The buggy versions are what such parsers
usually look like before someone fuzzes them:

- `parse_quantity_int`: `int(text)` and a range check. int() also takes " 7 ",
  "+7", "1_000" and other scripts' digits ("٣"), so those reach the order as 7,
  1000 and 3.
- `parse_quantity_dollar`: `re.match(r"^\\d{1,4}$")`. `$` also matches before a
  trailing newline, and `\\d` matches every script's digits: "7\\n" and "٣" pass.
"""

from __future__ import annotations

import re

QUANTITY = re.compile(r"[1-9][0-9]{0,3}")  # what the API documents: 1..9999, ASCII digits only


def parse_quantity(text: object) -> int:
    if not isinstance(text, str) or QUANTITY.fullmatch(text) is None:
        raise ValueError(f"quantity must be a whole number from 1 to 9999, got {text!r}")
    return int(text)


def parse_quantity_int(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError(f"quantity must be text, got {type(text).__name__}")
    quantity = int(text)  # raises ValueError for "abc"
    if not 1 <= quantity <= 9999:
        raise ValueError(f"quantity out of range: {quantity}")
    return quantity


def parse_quantity_dollar(text: object) -> int:
    if not isinstance(text, str) or not re.match(r"^\d{1,4}$", text) or int(text) == 0:
        raise ValueError(f"quantity must be a whole number from 1 to 9999, got {text!r}")
    return int(text)
