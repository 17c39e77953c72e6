"""Pure pricing rules: bulk discounts and coupon codes."""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# (minimum quantity, discount rate), largest threshold first.
BULK_DISCOUNTS: tuple[tuple[int, Decimal], ...] = (
    (50, Decimal("0.10")),
    (10, Decimal("0.05")),
)
MAX_COUPON_PERCENT = 50
_COUPON_RE = re.compile(r"SAVE([0-9]{1,2})")


@dataclass(frozen=True)
class Coupon:
    code: str
    percent: int

    @property
    def rate(self) -> Decimal:
        return Decimal(self.percent) / 100


def parse_coupon(code: str) -> Coupon:
    """Parse a code like ``SAVE15`` (case-insensitive) into a 1-50 % coupon."""
    normalized = code.strip().upper()
    match = _COUPON_RE.fullmatch(normalized)
    if match is None:
        raise ValueError(f"invalid coupon code: {code!r}")
    percent = int(match.group(1))
    if not 1 <= percent <= MAX_COUPON_PERCENT:
        raise ValueError(f"coupon discount must be 1-{MAX_COUPON_PERCENT}%, got {percent}%")
    return Coupon(normalized, percent)


def bulk_discount(quantity: int) -> Decimal:
    """Discount rate earned by ordering ``quantity`` units."""
    for threshold, rate in BULK_DISCOUNTS:
        if quantity >= threshold:
            return rate
    return Decimal(0)


def order_total(unit_price: float | Decimal, quantity: int, coupon: str | None = None) -> Decimal:
    """Total for ``quantity`` units: bulk discount, then coupon, rounded to cents."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    price = Decimal(str(unit_price))
    if not (price.is_finite() and price > 0):
        raise ValueError("unit price must be a positive, finite number")
    total = price * quantity * (1 - bulk_discount(quantity))
    if coupon is not None:
        total *= 1 - parse_coupon(coupon).rate
    return total.quantize(CENT, rounding=ROUND_HALF_UP)
