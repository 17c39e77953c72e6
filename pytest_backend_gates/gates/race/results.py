"""What a race probe gives back and records: its results (`RaceResults`), the exception of a
call (`ThreadFailure`, `describe_exception`) and what one `race.run` did (`Probe`)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_backend_gates.gates.race.tracing import OwnCode


class RaceResults(list[Any]):
    """The results of every call, round by round, in thread order within a round.

    `by_round[r][t]` is what thread `t` returned in round `r`; `where(i)` names the
    call that produced the flat list's `i`-th item.
    """

    def __init__(self, by_round: list[list[Any]]) -> None:
        super().__init__(value for round_results in by_round for value in round_results)
        self.by_round = by_round
        self.threads = len(by_round[0]) if by_round else 0

    def where(self, index: int) -> str:
        if not self.threads:
            return f"result {index}"
        return f"round {index // self.threads + 1}, thread {index % self.threads + 1}"


@dataclass
class ThreadFailure:
    round: int  # 1-based, as shown
    thread: int  # 1-based
    exception: BaseException
    text: str  # "ValueError: balance too low (at bank.py:21 in withdraw)"


@dataclass
class Probe:
    """What one race.run did: recorded by the race gate."""

    function: str
    threads: int
    rounds: int
    seed: int
    schedule: str
    seconds: float = 0.0
    calls: int = 0
    failures: list[ThreadFailure] = field(default_factory=list)
    perturbations: int = 0
    stalls: int = 0

    def to_data(self) -> dict[str, Any]:
        return {"function": self.function, "threads": self.threads, "rounds": self.rounds, "seed": self.seed,
                "schedule": self.schedule, "seconds": round(self.seconds, 4), "calls": self.calls,
                "failures": len(self.failures), "perturbations": self.perturbations, "stalls": self.stalls}


def describe_exception(exc: BaseException, own: OwnCode) -> str:
    """"ValueError: balance too low (at bank.py:21 in withdraw)": the deepest frame of the project's
    own code, else the deepest frame at all (a library's, or this plugin's when it crashed itself)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f.filename and Path(f.filename).is_absolute() and own._judge(f.filename)] \
        or frames[-1:]
    place = f" (at {Path(mine[-1].filename).name}:{mine[-1].lineno} in {mine[-1].name})" if mine else ""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}{': ' + message[0] if message else ''}{place}"
