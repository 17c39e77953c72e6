"""Pure pricing rules: bulk discounts and coupon codes."""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shop.twin import DEFECTS

CENT = Decimal("0.01")
# (minimum quantity, discount rate), largest threshold first.
BULK_DISCOUNTS: tuple[tuple[int, Decimal], ...] = (
    (50, Decimal("0.10")),
    (10, Decimal("0.05")),
)
MAX_COUPON_PERCENT = 50
if DEFECTS:  # DEFECT(unicode-digits)
    # DEFECT(unicode-digits): `\d` matches the digits of every script, and int() reads them:
    # "SAVE١٠" (Arabic-Indic digits) is a 10 % coupon, "SAVE05" one of 5 %, codes the API's pattern
    # refuses. The validation gate's property test of parse_coupon finds it (invalid-accepted).
    _COUPON_RE = re.compile(r"SAVE(\d{1,2})")
else:  # FIX(unicode-digits)
    # FIX(unicode-digits): ASCII digits, no leading zero: exactly the codes of COUPON_PATTERN.
    _COUPON_RE = re.compile(r"SAVE([1-9][0-9]?)")


@dataclass(frozen=True)
class Coupon:
    code: str
    percent: int

    @property
    def rate(self) -> Decimal:
        return Decimal(self.percent) / 100


def parse_coupon(code: str) -> Coupon:
    """Parse a code like ``SAVE15`` into a 1-50 % coupon: the grammar of the API's COUPON_PATTERN.

    Raises ValueError for any other text (TypeError for what is not text)."""
    match = _COUPON_RE.fullmatch(code)
    if match is None:
        raise ValueError(f"invalid coupon code: {code!r}")
    percent = int(match.group(1))
    if not 1 <= percent <= MAX_COUPON_PERCENT:
        raise ValueError(f"coupon discount must be 1-{MAX_COUPON_PERCENT}%, got {percent}%")
    return Coupon(code, percent)


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
    if DEFECTS:  # DEFECT(untested-branch)
        # DEFECT(untested-branch): an error handler added without a test. str() of a number always
        # parses, so nothing in the suite reaches the `except`: shop/pricing.py falls under its 100 %
        # minimum, and the coverage gate names the lines.
        try:
            price = Decimal(str(unit_price))
        except InvalidOperation as exc:
            raise ValueError(f"unit price is not a number: {unit_price!r}") from exc
    else:  # FIX(untested-branch)
        # FIX(untested-branch): no handler nobody tests; what is not a positive number is refused below.
        price = Decimal(str(unit_price))
    if not (price.is_finite() and price > 0):
        raise ValueError("unit price must be a positive, finite number")
    if DEFECTS:  # DEFECT(slow-path)
        # DEFECT(slow-path): adds the order up unit by unit, working out the tier and the coupon again
        # for each unit: the same total, but a 10,000-unit quote takes tens of milliseconds instead of
        # microseconds. The latency gate's budgets (on GET /items/{item_id}/quote and on
        # tests/test_pricing.py::test_the_largest_order_is_priced_quickly) find it.
        total = Decimal(0)
        for _ in range(quantity):
            unit = price * (1 - bulk_discount(quantity))
            if coupon is not None:
                unit *= 1 - parse_coupon(coupon).rate
            total += unit
    else:  # FIX(slow-path)
        # FIX(slow-path): one multiplication for the whole order, whatever its size.
        total = price * quantity * (1 - bulk_discount(quantity))
        if coupon is not None:
            total *= 1 - parse_coupon(coupon).rate
    return total.quantize(CENT, rounding=ROUND_HALF_UP)
