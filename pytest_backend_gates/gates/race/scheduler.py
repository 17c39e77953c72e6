"""The controlled schedule of race probes (`schedule = "controlled"`): one thread at a time.

:class:`ControlledScheduler` goes further than the stagger schedule (perturbation.py)
for pure-Python code: only one thread runs at a time and the seed alone decides,
at each line of the project's code (tracing.py's `OwnCode`), which thread runs
next, so a failing seed fails again every time.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from pytest_backend_gates.gates.race.tracing import OwnCode, TraceFunction, reinstate


class SchedulerStuck(Exception):
    """The controlled scheduler gave up waiting (the code blocks outside traced lines)."""


class ControlledScheduler:
    """One thread at a time; at every traced line the seed picks which thread runs next.

    Deterministic for code whose threads only interact through Python-level state
    between traced lines. A thread that blocks in C (a lock held by another
    thread, a socket, a database) cannot be switched away from inside that call:
    after `patience` seconds without progress the scheduler lets another thread
    run (the schedule is then no longer determined by the seed alone; `stalls`
    counts how often that happened).
    """

    def __init__(self, seed: int, own: OwnCode, threads: int, round_index: int,
                 switch_probability: float = 0.3, patience: float = 0.005) -> None:
        self.own = own
        self.rng = random.Random(f"{seed}:{round_index}:scheduler")
        self.threads = threads
        self.switch_probability = switch_probability
        self.patience = patience
        self.stalls = 0
        self._cond = threading.Condition()
        self._current: int | None = None
        self._runnable: set[int] = set()
        self._arrived: set[int] = set()
        self._blocked: set[int] = set()  # threads that stalled inside a blocking call
        self._native_ids: dict[int, int] = {}
        self._steps = 0

    # -- called in each probe thread -----------------------------------------------
    def enter(self, index: int) -> Callable[[], None]:
        """Join the schedule (waits for the turn) and trace the thread; returns `leave`."""
        with self._cond:
            self._native_ids[index] = threading.get_native_id()
            self._arrived.add(index)
            self._runnable.add(index)
            if len(self._arrived) == self.threads:
                self._current = self._pick(None)
                self._cond.notify_all()
            self._wait_turn(index)
        previous: Any = sys.gettrace()
        sys.settrace(self._global_hook(index, previous))

        def leave() -> None:
            sys.settrace(previous)
            with self._cond:
                self._runnable.discard(index)
                self._blocked.discard(index)
                if self._current == index:
                    self._current = self._pick(None)
                self._cond.notify_all()
        return leave

    def _pick(self, current: int | None) -> int | None:
        choices = sorted(self._runnable - self._blocked) or sorted(self._runnable)
        if not choices:
            return None
        return self.rng.choice(choices)

    def _wait_turn(self, index: int) -> None:
        quiet = 0  # consecutive waits in which the running thread made no progress off the CPU
        while self._current != index:
            seen = self._steps
            stalled = not self._cond.wait(self.patience) and self._steps == seen and self._current is not None \
                and self._current != index and not self._on_cpu(self._current)
            # Twice: the first time the running thread may only be waiting for this condition's lock,
            # which this thread held while checking.
            quiet = quiet + 1 if stalled else 0
            if quiet >= 2 and self._current is not None:
                quiet = 0
                # The running thread made no progress: it blocks outside traced code.
                self.stalls += 1
                self._steps += 1  # the other waiting threads see progress and keep waiting
                self._blocked.add(self._current)  # not chosen again until it reaches a traced line
                self._current = index
                self._cond.notify_all()

    def _on_cpu(self, index: int) -> bool:
        """Is the thread running or waiting for a CPU (so only slow, not blocked)? On a busy machine
        the OS can hold a thread off the CPU for longer than `patience`; taking over then would make
        the schedule depend on the load, not the seed. Linux tells (/proc); elsewhere: assume blocked."""
        native = self._native_ids.get(index)
        try:
            with open(f"/proc/self/task/{native}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state == b"R"

    def _step(self, index: int) -> None:
        with self._cond:
            self._steps += 1
            self._blocked.discard(index)
            if self._current != index:  # was overtaken while blocked: wait for a turn again
                self._wait_turn(index)
                return
            if self.rng.random() < self.switch_probability:
                chosen = self._pick(index)
                if chosen is not None and chosen != index:
                    self._current = chosen
                    self._cond.notify_all()
                    self._wait_turn(index)

    def _global_hook(self, index: int, previous: TraceFunction | None) -> TraceFunction:
        own = self.own
        scheduler = self

        def line_hook(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "line":
                scheduler._step(index)
            return line_hook

        def global_hook(frame: FrameType, event: str, arg: Any) -> Any:
            local = previous(frame, event, arg) if previous is not None else None
            if previous is not None and sys.gettrace() is not global_hook:
                reinstate(global_hook)
            if frame.f_code not in own:
                return local
            if local is None:
                return line_hook

            def chained(frame: FrameType, event: str, arg: Any) -> Any:
                nonlocal local
                result = local(frame, event, arg) if local is not None else None
                if result is not None:
                    local = result
                line_hook(frame, event, arg)
                return chained
            return chained

        return global_hook
