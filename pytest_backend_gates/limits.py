"""The allowed range of every number a user gives: configuration keys, budget values, marker and
call arguments. One place, so that config.py, the markers and docs/configuration.md agree.

Upper bounds keep a typo from becoming a run that never ends (`rounds = 10**12`, a 1e20 s load run)
or a value no tool can use (NaN, infinity); each is far above what a real run needs.
"""

from __future__ import annotations

from typing import Any

MINUTE = 60.0
HOUR = 3600.0
DAY = 86_400.0

MAX_EXAMPLES = 100_000  # contract and validation max_examples
MAX_SAMPLES = 100_000  # latency samples (config and marker)
MAX_THREADS = 256  # race threads (config, marker, race.run)
MAX_ROUNDS = 10_000  # race rounds (config, marker, race.run)
MAX_QUERIES = 1_000_000  # queries max_per_request / max_repeats, query_budget(max=, repeats=)
MAX_RATE_LIMIT = 10_000  # security rate_limits: requests before a 429 is expected
MAX_USERS = 100_000  # load users
MAX_SPAWN_RATE = 100_000.0  # load spawn_rate, users per second
MAX_WORKERS = 256  # load workers (processes on this machine)
MAX_REMOTE_WORKERS = 10_000  # load remote_workers
MAX_SEED = 2**63 - 1  # the largest TOML integer
MAX_REGRESSION = 1000.0  # latency regression, percent
MAX_CONTRACT_TIME = DAY  # contract max_time
MAX_DEADLINE = HOUR  # validation deadline (config and call)
MAX_LOAD_DURATION = DAY  # load duration
MAX_LOAD_MARGIN = HOUR  # load margin
MAX_WORKERS_TIMEOUT = HOUR  # load workers_timeout
MAX_BUDGET_TIME = DAY  # a time value in a budget expression ('p95 < 50ms')
MAX_BUDGET_RPS = 10_000_000.0  # an rps value in a budget expression


def count_problem(value: Any, minimum: int, maximum: int) -> str | None:
    """Why `value` is not an integer from `minimum` to `maximum` (the end of a sentence), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"is not an integer; expected an integer from {minimum} to {maximum}"
    if not minimum <= value <= maximum:
        return f"is out of range; expected an integer from {minimum} to {maximum}"
    return None


def seconds_text(seconds: float) -> str:
    """86400.0 -> '86400s (24 hours)': the bounds of durations, as a user writes them and reads them."""
    text = f"{seconds:g}s"
    if seconds >= HOUR and seconds % HOUR == 0:
        hours = int(seconds // HOUR)
        return f"{text} ({hours} hour{'s' if hours != 1 else ''})"
    return text
