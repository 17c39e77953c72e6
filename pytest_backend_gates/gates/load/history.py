"""The load run over time, for reports (the HTML report draws it against the thresholds): requests
and failures per second from locust's own per-second counts, users and p95 from the runner's
samples (runner.Timeline), in at most HISTORY_POINTS windows of `step_s` seconds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

HISTORY_POINTS = 60  # windows at most: a long run gets longer windows, the report stays small


def history_step(duration: float) -> float:
    """Seconds per window (and between the runner's samples): 1 s, longer for runs over a minute."""
    return float(max(1, math.ceil(duration / HISTORY_POINTS)))


def load_history(total: Mapping[str, Any], timeline: Sequence[Sequence[Any]], started_at: float | None,
                 step: float) -> dict[str, Any]:
    """`history`: per window `t_s` (its end, seconds since the users started), `rps`, `failures_per_s`,
    `users` (at the window's sample) and `p95_ms` (of the responses that came in it); null where the
    window had no sample or no response. Empty when the runner sent no timing (older result files)."""
    if started_at is None or step <= 0:
        return {}
    requests = _per_window(total.get("num_reqs_per_sec") or {}, started_at, step)
    failures = _per_window(total.get("num_fail_per_sec") or {}, started_at, step)
    sampled: dict[int, tuple[Any, Any]] = {}
    for elapsed, users, p95 in timeline:
        # taken (a little late) at the end of its window: the window ending nearest to it
        sampled[max(0, round(float(elapsed) / step) - 1)] = (users, p95)
    count = min(HISTORY_POINTS, max([*requests, *failures, *sampled], default=-1) + 1)
    if count <= 0:
        return {}
    windows = range(count)
    return {
        "step_s": step,
        "t_s": [round((i + 1) * step, 3) for i in windows],
        "rps": [round(requests.get(i, 0) / step, 2) for i in windows],
        "failures_per_s": [round(failures.get(i, 0) / step, 2) for i in windows],
        "users": [sampled.get(i, (None, None))[0] for i in windows],
        "p95_ms": [sampled.get(i, (None, None))[1] for i in windows],
    }


def _per_window(per_second: Mapping[Any, Any], started_at: float, step: float) -> dict[int, int]:
    """locust's {epoch second: count} (keys are strings once through JSON) summed per window."""
    windows: dict[int, int] = {}
    for second, count in per_second.items():
        index = max(0, math.floor((int(second) + 0.5 - started_at) / step))  # the middle of that second
        windows[index] = windows.get(index, 0) + int(count)
    return windows
