"""Orders placed at the same time, through the plugin's `race` fixture: with --backend-gates its
threads are released together and the schedule is perturbed inside the shop's own code."""

from typing import Any

from shop.db import Database, OutOfStock

STOCK = 40


def test_concurrent_orders_never_oversell(race: Any) -> None:
    db = Database()
    item_id = db.create_item("Widget", 1.0, STOCK)["id"]

    def buy() -> bool:
        try:
            db.place_order(item_id, 1, None, lambda price: price)
        except OutOfStock:
            return False
        return True

    sold = race.run(buy)  # threads and rounds from [tool.backend-gates.race]: 8 x 10, twice the stock
    left = db.get_item(item_id)["quantity"]  # type: ignore[index]
    race.assert_total(left, [-1 for ok in sold if ok], start=STOCK, what="units in stock")
    assert sold.count(True) == min(STOCK, len(sold))
    db.close()
