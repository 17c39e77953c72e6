import re
from decimal import Decimal
from typing import Any

import pytest

from shop.models import COUPON_PATTERN, MAX_ORDER_QUANTITY
from shop.pricing import Coupon, bulk_discount, order_total, parse_coupon


@pytest.mark.parametrize(
    ("code", "expected"),
    [("SAVE10", Coupon("SAVE10", 10)), ("SAVE5", Coupon("SAVE5", 5)), ("SAVE50", Coupon("SAVE50", 50))],
)
def test_parse_coupon_valid(code: str, expected: Coupon) -> None:
    assert parse_coupon(code) == expected


def test_coupon_rate() -> None:
    assert Coupon("SAVE15", 15).rate == Decimal("0.15")


@pytest.mark.parametrize("code", ["", "SAVE", "SAVEX", "SAVE100", "SAVE-5", "FREE10", "SAVE 10", " SAVE5 ", "save5"])
def test_parse_coupon_malformed(code: str) -> None:
    with pytest.raises(ValueError, match="invalid coupon code"):
        parse_coupon(code)


@pytest.mark.parametrize("code", ["SAVE51", "SAVE99"])
def test_parse_coupon_out_of_range(code: str) -> None:
    with pytest.raises(ValueError, match="1-50%"):
        parse_coupon(code)


def test_coupon_codes_are_exactly_the_apis(input_validation: Any) -> None:
    # The grammar is the API's COUPON_PATTERN. Besides the codes it matches, the check tries edits of
    # them (padding, other scripts' digits, case, a zero inserted...), odd strings and other types:
    # each must be refused, with ValueError (TypeError for what is not text).
    input_validation.check(parse_coupon, accepts=re.compile(COUPON_PATTERN), rejects=(ValueError, TypeError))


@pytest.mark.parametrize(
    ("quantity", "rate"),
    [(1, "0"), (9, "0"), (10, "0.05"), (49, "0.05"), (50, "0.10"), (500, "0.10")],
)
def test_bulk_discount_thresholds(quantity: int, rate: str) -> None:
    assert bulk_discount(quantity) == Decimal(rate)


@pytest.mark.parametrize(
    ("unit_price", "quantity", "coupon", "expected"),
    [
        (2.5, 4, None, "10.00"),
        (0.1, 3, None, "0.30"),  # no binary float drift
        (10, 10, None, "95.00"),  # 5 % bulk
        (10, 50, None, "450.00"),  # 10 % bulk
        (10, 1, "SAVE10", "9.00"),
        (10, 10, "SAVE20", "76.00"),  # bulk then coupon
        (0.99, 3, "SAVE15", "2.52"),  # 2.5245 rounds half up
        (Decimal("19.99"), 1, None, "19.99"),
    ],
)
def test_order_total(unit_price: float | Decimal, quantity: int, coupon: str | None, expected: str) -> None:
    assert order_total(unit_price, quantity, coupon) == Decimal(expected)


@pytest.mark.parametrize("quantity", [0, -1])
def test_order_total_rejects_bad_quantity(quantity: int) -> None:
    with pytest.raises(ValueError, match="quantity"):
        order_total(1.0, quantity)


@pytest.mark.parametrize("unit_price", [0, -1.5, float("nan"), float("inf")])
def test_order_total_rejects_bad_price(unit_price: float) -> None:
    with pytest.raises(ValueError, match="unit price"):
        order_total(unit_price, 1)


def test_order_total_rejects_bad_coupon() -> None:
    with pytest.raises(ValueError, match="invalid coupon"):
        order_total(1.0, 1, "BOGUS")


@pytest.mark.latency_budget("p95 < 2ms")
def test_the_largest_order_is_priced_quickly() -> None:
    # A quote or an order of the most units the API takes: one multiplication, whatever the quantity.
    assert order_total(Decimal("19.99"), MAX_ORDER_QUANTITY, "SAVE10") == Decimal("161919.00")
