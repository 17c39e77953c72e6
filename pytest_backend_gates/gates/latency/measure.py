"""Taking timings where the test runs: timed rounds with other processes' CPU time removed,
the machine's speed now (for scaling baselines), and the stand-in for pytest-benchmark's fixture."""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

MEASURE_TIME_CAP = 3.0  # seconds one measurement may take once it has MIN_SAMPLES
MIN_SAMPLES = 5
CONFIRM_FACTOR = 2  # a re-measurement takes twice the samples: a narrower interval, decided on fresh data
MAX_SAMPLES = 2000  # pytest-benchmark's samples beyond this are thinned (evenly spaced) before judging


def _thread_times() -> dict[str, tuple[int, int]] | None:
    """Per thread of this process: (CPU time, time runnable but waiting for a CPU), in ns.

    Linux's /proc/self/task/*/schedstat; None where it does not exist (then nothing is removed).
    """
    times: dict[str, tuple[int, int]] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat", "rb") as stream:
                cpu, wait, _ = stream.read().split(maxsplit=2)
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        times[tid] = (int(cpu), int(wait))
    return times or None


def stolen_time(before: dict[str, tuple[int, int]] | None, after: dict[str, tuple[int, int]] | None,
                wall: float) -> float:
    """Seconds of `wall` during which this process was kept off the CPU by other processes.

    The time its threads waited for a CPU (runnable, not running), bounded by the time
    none of them can have run (wall minus their CPU time), so neither sleeping or I/O
    (not runnable) nor the process's own threads competing with each other (which
    leaves no time with none running) is ever removed. Threads born during the call
    count from zero; threads that ended are left out (less is removed, never more).
    """
    if before is None or after is None:
        return 0.0
    waited = cpu = 0
    for tid, (cpu_after, wait_after) in after.items():
        cpu_before, wait_before = before.get(tid, (0, 0))
        cpu += cpu_after - cpu_before
        waited += wait_after - wait_before
    return max(0.0, min(waited / 1e9, wall - cpu / 1e9))


def time_rounds(call: Callable[[], object], count: int, *, iterations: int = 1,
                cap: float = MEASURE_TIME_CAP, min_samples: int = MIN_SAMPLES,
                removed: list[float] | None = None) -> list[float]:
    """`count` timings of `call` (seconds per call; `iterations` calls per timing), fewer when
    the measurement has spent `cap` seconds and already has `min_samples`.

    Each timing is the wall time minus the time other processes kept this one off the
    CPU (:func:`stolen_time`); what was removed is appended to `removed` if given.
    """
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(count):
        before = _thread_times()
        begin = time.perf_counter()
        for _ in range(iterations):
            call()
        wall = time.perf_counter() - begin
        stolen = stolen_time(before, _thread_times(), wall)
        if removed is not None:
            removed.append(stolen / iterations)
        samples.append((wall - stolen) / iterations)
        if len(samples) >= min_samples and time.perf_counter() - started > cap:
            break
    return samples


def thin(samples: Sequence[float], keep: int = MAX_SAMPLES) -> list[float]:
    """At most `keep` of `samples`, evenly spaced in time order (pytest-benchmark may take 100000s)."""
    if len(samples) <= keep:
        return list(samples)
    step = len(samples) / keep
    return [samples[int(i * step)] for i in range(keep)]


def _reference_work() -> int:
    total = 0
    for i in range(20000):
        total += i * i % 7
    return total


def calibration(repeats: int = 7) -> float:
    """Median time of a fixed pure-Python workload: this machine's speed now, for scaling baselines."""
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        _reference_work()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


class BenchmarkRecorder:
    """Stands in for pytest-benchmark's fixture during a budgeted test: forwards every use to
    it, and remembers the callable so the gate can time it again (confirmation, or when
    pytest-benchmark is disabled). Coroutine functions are run to completion on an event loop."""

    def __init__(self, fixture: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        object.__setattr__(self, "_fixture", fixture)
        object.__setattr__(self, "_loop_factory", loop_factory)
        object.__setattr__(self, "recorded", None)  # (callable, iterations)

    def _sync(self, function: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(function):
            return function
        loop_factory = self._loop_factory

        def run(*args: Any, **kwargs: Any) -> Any:
            return loop_factory().run_until_complete(function(*args, **kwargs))

        return run

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        function = self._sync(function)
        object.__setattr__(self, "recorded", (lambda: function(*args, **kwargs), 1))
        return self._fixture(function, *args, **kwargs)

    def pedantic(self, target: Callable[..., Any], args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                 setup: Callable[[], Any] | None = None, **options: Any) -> Any:
        target = self._sync(target)
        fixed_kwargs = dict(kwargs or {})

        def again() -> Any:
            call_args, call_kwargs = (args, fixed_kwargs)
            if setup is not None:
                prepared = setup()
                if prepared is not None:
                    call_args, call_kwargs = prepared
            return target(*call_args, **call_kwargs)

        object.__setattr__(self, "recorded", (again, 1))
        return self._fixture.pedantic(target, args=args, kwargs=kwargs, setup=setup, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fixture, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._fixture, name, value)


def first_timings(item: pytest.Item, samples: int, real_benchmark: Any, recorder: BenchmarkRecorder | None,
                  removed: list[float]) -> tuple[list[float], Callable[..., list[float]] | None, str]:
    """A budgeted test's first timings, how to measure it again (None: it cannot be) and where
    the timings come from: pytest-benchmark's samples, the callable the test handed to
    `benchmark` timed here, or the test's call phase run again. `removed` gets, per sample,
    the time other processes held the CPU (not counted)."""
    source = "call phase"
    iterations = 1
    measure: Callable[..., list[float]] | None
    recorded = recorder.recorded if recorder is not None else None
    if recorded is not None:
        again, iterations = recorded
        stats = getattr(real_benchmark, "stats", None)
        data = list(getattr(getattr(stats, "stats", None), "data", None) or [])
        if data:
            data = thin(data)
            iterations = int(getattr(stats, "iterations", 1) or 1)
            source = "pytest-benchmark"

            def measure(count: int = samples) -> list[float]:
                return time_rounds(again, count, iterations=iterations, removed=removed)

            first = data
        else:
            source = "benchmarked callable (pytest-benchmark disabled)"

            def measure(count: int = samples) -> list[float]:
                return time_rounds(again, count, removed=removed)

            first = measure()
    else:
        stats = getattr(real_benchmark, "stats", None) if real_benchmark is not None else None
        data = list(getattr(getattr(stats, "stats", None), "data", None) or [])
        if data:
            # pytest-benchmark ran, but not through the argument the gate could watch (e.g.
            # request.getfixturevalue): its samples are judged, with nothing to re-measure.
            source = "pytest-benchmark (not re-measurable)"
            first, measure = thin(data), None
        else:
            if inspect.iscoroutinefunction(getattr(item, "obj", None)):
                source = "call phase (awaited)"

            def measure(count: int = samples) -> list[float]:
                return time_rounds(item.runtest, count, removed=removed)

            first = measure()
    return first, measure, source


def cpu_wait_share(removed: list[float], first: Sequence[float], second: Sequence[float] | None) -> float:
    """Percent of the measured wall time that other processes held the CPU (removed from the samples)."""
    if not removed:
        return 0.0
    kept = math.fsum(first) + math.fsum(second or ())
    total = kept + math.fsum(removed)
    return 100 * math.fsum(removed) / total if total > 0 else 0.0

