"""A probe's arguments: threads, rounds and schedule, checked for `race.run`, the race
settings and `@pytest.mark.race_probe` (RaceUsageError names what is allowed)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.limits import MAX_ROUNDS, MAX_THREADS

Schedule = Literal["stagger", "controlled", "none"]
SCHEDULES: tuple[str, ...] = ("stagger", "controlled", "none")


class RaceUsageError(UsageError):
    """Bad arguments to race.run / @pytest.mark.race_probe; the message says what is allowed."""


def check_threads(value: Any, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_THREADS:
        raise RaceUsageError(f"{source}: threads={value!r} is not allowed; expected an integer from 2 to {MAX_THREADS}")
    return value


def check_rounds(value: Any, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROUNDS:
        raise RaceUsageError(f"{source}: rounds={value!r} is not allowed; expected an integer from 1 to {MAX_ROUNDS}")
    return value


def check_schedule(value: Any, source: str) -> Schedule:
    if value not in SCHEDULES:
        raise RaceUsageError(f"{source}: schedule={value!r} is not allowed; expected one of {', '.join(SCHEDULES)}")
    return value  # type: ignore[no-any-return]


def marker_arguments(marker: Any, settings: Any) -> tuple[int, int, Schedule]:
    """Validates @pytest.mark.race_probe(threads=8, rounds=20) with its real signature."""
    default_schedule: Schedule = getattr(settings, "schedule", "stagger")
    defaults = (getattr(settings, "threads", 8), getattr(settings, "rounds", 20), default_schedule)

    def race_probe(threads: int = defaults[0], rounds: int = defaults[1],
                   schedule: Schedule = defaults[2]) -> tuple[int, int, Schedule]:
        return threads, rounds, schedule

    shown = ", ".join([*(repr(a) for a in marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
    source = f"@pytest.mark.race_probe({shown})"
    try:
        threads, rounds, schedule = race_probe(*marker.args, **marker.kwargs)
    except TypeError as exc:
        raise RaceUsageError(f"{source}: {re.sub(r'^.*race_probe[(][)] ', '', str(exc))}; "
                             "expected race_probe(threads=8, rounds=20)") from None
    return check_threads(threads, source), check_rounds(rounds, source), check_schedule(schedule, source)
