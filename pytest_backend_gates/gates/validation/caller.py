"""How `input_validation.check` calls the checked function: once per input, under a per-call
deadline (an interval timer interrupts a call that runs past it where it can), awaiting what
it returns if that is awaitable.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis

from pytest_backend_gates.gates.validation.outcome import StopRun, UsageProblem
from pytest_backend_gates.location import PACKAGE_DIR

TIMED_OUT = object()  # what a call that outlived its deadline returned


class _Timeout(BaseException):
    """Raised by the alarm inside the checked function; a BaseException so `except Exception` in it does not
    swallow it."""


class Caller:
    """Calls `fn(value)` under a per-call deadline; awaits what it returns if that is awaitable.

    In the main thread on POSIX (where pytest runs tests, xdist workers included) an
    interval timer interrupts a call that runs past the deadline, a catastrophic
    regex included. Elsewhere, or when another SIGALRM timer is armed (pytest-timeout),
    a call is only judged by its duration once it returned.
    """

    def __init__(self, fn: Callable[[Any], Any], deadline: float) -> None:
        self.fn = fn
        self.deadline = deadline
        self.interrupts = False
        self._previous: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._not_interrupted = (str(Path(hypothesis.__file__).parent), PACKAGE_DIR)

    def __enter__(self) -> Caller:
        if (self.deadline > 0 and hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread()
                and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)):
            self._previous = signal.signal(signal.SIGALRM, self._alarm)
            self.interrupts = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.interrupts:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)
            self.interrupts = False
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _alarm(self, signum: int, frame: Any) -> None:
        # Not inside hypothesis' own code (its gc callback would swallow the exception as unraisable)
        # or ours: the timer repeats, and the next tick lands in the checked function.
        if frame is not None and frame.f_code.co_filename.startswith(self._not_interrupted):
            return
        raise _Timeout

    def __call__(self, value: Any) -> tuple[BaseException | None, Any]:
        """(None, result), (exception, None), or (None, TIMED_OUT)."""
        started = time.perf_counter()
        try:
            try:
                if self.interrupts:
                    # Repeating: an alarm that lands in a gc callback is swallowed there; the next one is not.
                    signal.setitimer(signal.ITIMER_REAL, self.deadline, min(self.deadline, 0.05))
                result = self.fn(value)
                if inspect.isawaitable(result):
                    result = self._await(result)
            finally:
                if self.interrupts:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        except _Timeout:
            return None, TIMED_OUT
        except (KeyboardInterrupt, StopRun):
            raise
        except BaseException as exc:  # the function's own exception, whatever it is, is what we judge
            return exc, None
        if self.deadline > 0 and time.perf_counter() - started > self.deadline:
            return None, TIMED_OUT
        return None, result

    def _await(self, awaitable: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise UsageProblem("input_validation.check() of an async function needs a test without a running "
                               "event loop (a plain `def test_...`): it runs the coroutines in a loop of its own")
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._with_deadline(awaitable))

    async def _with_deadline(self, awaitable: Any) -> Any:
        if self.deadline <= 0:
            return await awaitable
        timeout = asyncio.timeout(self.deadline)
        try:
            async with timeout:
                return await awaitable
        except TimeoutError:
            if timeout.expired():
                raise _Timeout from None
            raise
