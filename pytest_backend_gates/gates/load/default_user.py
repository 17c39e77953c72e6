"""The load gate's default locust user: a locustfile, run when `[tool.backend-gates.load]` has no `locustfile`.

Never imported by the pytest process (it imports locust, which imports gevent).
The gate writes a plan (load_plan.py: concrete URLs per GET/HEAD operation of
the schema, with ids that exist where any are known, plus the contract
table's `headers`) to a private JSON file and names it in the environment
variable BACKEND_GATES_LOAD_PLAN; locust workers started by the gate inherit it.

Each simulated user picks an operation uniformly at random, then one of its
URLs, sends it, then waits 10 to 50 ms (`between(0.01, 0.05)`): a short pause,
so throughput thresholds (`rps > N`) measure the server rather than think time.
Requests are grouped in locust's statistics by operation ("GET /items/{item_id}"),
not by concrete URL. A response is a success when it is 2xx; any other status
is a failure recorded as "HTTP <status>" (so the gate can name the statuses per
endpoint); a connection error, or no answer within `network_timeout` (10 s),
is a failure as locust records it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

PLAN_VARIABLE = "BACKEND_GATES_LOAD_PLAN"


def _load_plan() -> dict[str, Any]:
    location = os.environ.get(PLAN_VARIABLE)
    if not location:
        raise RuntimeError(f"{PLAN_VARIABLE} is not set: this locustfile is run by pytest-backend-gates' load gate, "
                           "which writes the plan it reads")
    plan: dict[str, Any] = json.loads(Path(location).read_text(encoding="utf-8"))
    if not plan.get("operations"):
        raise RuntimeError(f"the plan in {location} has no operation to call")
    return plan


_PLAN = _load_plan()
_OPERATIONS: list[dict[str, Any]] = _PLAN["operations"]
_HEADERS: dict[str, str] = dict(_PLAN.get("headers") or {})


class BackendGatesDefaultUser(FastHttpUser):
    """Spreads requests over the schema's safe operations."""

    wait_time = between(0.01, 0.05)
    connection_timeout = 5.0
    network_timeout = 10.0

    @task
    def call_an_operation(self) -> None:
        operation = random.choice(_OPERATIONS)  # noqa: S311 - load spreading, not security
        url = random.choice(operation["urls"])  # noqa: S311
        with self.client.request(operation["method"], url, name=operation["path"], headers=_HEADERS,
                                 catch_response=True) as response:
            status = response.status_code or 0
            if 200 <= status < 300:
                response.success()
            elif status:
                response.failure(f"HTTP {status}")
            # status 0: no answer; locust records the connection error itself
