"""Shared by both catalog apps: the product data and the slow upstream.

`fetch_sales_report` stands for a synchronous client of a slow upstream (a
`requests` call, a sync database driver): it blocks its thread for
`UPSTREAM_SECONDS`.
"""

from __future__ import annotations

import time

UPSTREAM_SECONDS = 0.03
PRODUCTS = [
    {"id": i, "name": f"product {i}", "tags": [f"tag-{i}", f"tag-{i // 2}", "catalog"]}
    for i in range(3000)
]


def fetch_sales_report(day: str) -> dict[str, object]:
    time.sleep(UPSTREAM_SECONDS)  # the upstream's answer time
    return {"day": day, "orders": 42, "revenue": 1234.5}
