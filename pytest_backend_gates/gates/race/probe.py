"""The `race` fixture's engine: run a function in many threads at once, many times, and say what broke.

`Race.run(fn, *args, threads=8, rounds=20, **kwargs)` starts `threads` worker
threads; in each of `rounds` rounds they wait at a barrier and call `fn`
together, with the schedule perturbed (perturbation.py, or scheduler.py) so that a race window of a
few lines is hit nearly every time. Every exception of every thread is kept
and the failure names its round and thread; results come back in round, then
thread order. Async functions run as tasks of one event loop, released
together, with seeded extra hand-offs at their await points.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.gates.race.arguments import (
    RaceUsageError,
    Schedule,
    check_rounds,
    check_schedule,
    check_threads,
)
from pytest_backend_gates.gates.race.perturbation import (
    Perturbation,
    _Perturbed,
    _rng,
)
from pytest_backend_gates.gates.race.results import (
    Probe,
    RaceResults,
    ThreadFailure,
    describe_exception,
)
from pytest_backend_gates.gates.race.scheduler import ControlledScheduler
from pytest_backend_gates.gates.race.tracing import (
    InterpreterSettings,
    OwnCode,
    ProbeThread,
)

DEFAULT_TIMEOUT = 120.0  # seconds for one probe: a deadlock ends the test instead of hanging the run
SHOWN_FAILURES = 8


# (round, thread), 1-based, of the probe call running in this thread or task.
_current_call: contextvars.ContextVar[tuple[int, int]] = contextvars.ContextVar("backend_gates_race_call",
                                                                                 default=(0, 0))


class RaceError(AssertionError):
    """A probe found a race: exceptions in threads, or a broken invariant. The text says where."""


def derive_seed(base: int, probe_index: int) -> int:
    """The seed of the n-th probe of a test: the same base seed replays every probe of the test."""
    return base if probe_index == 0 else (base * 1_000_003 + probe_index * 7919) % 2**32


class Race:
    """The `race` fixture. One per test; `run` may be called several times."""

    def __init__(self, *, rootdir: Path | str, seed: int, threads: int = 8, rounds: int = 20,
                 schedule: Schedule = "stagger", where: str = "", replay: str | None = None,
                 on_probe: Callable[[Probe], None] | None = None) -> None:
        self.own = OwnCode(rootdir)
        self.seed = seed
        self.threads = threads
        self.rounds = rounds
        self.schedule: Schedule = schedule
        self.timeout = DEFAULT_TIMEOUT
        self.where = where
        self.replay = replay  # e.g. 'pytest --backend-gates-race-seed=N "tests/x.py::test_y"'
        self.probes: list[Probe] = []
        self._on_probe = on_probe

    @property
    def round(self) -> int:
        """The round (1-based) of the probe call running in the calling thread or task; 0 outside.

        Lets a function vary by round, e.g. a new username per round that every thread
        of the round tries to take at once: `race.run(lambda: users.register(f"ann{race.round}"))`.
        """
        return _current_call.get()[0]

    @property
    def thread(self) -> int:
        """The thread (1-based) of the probe call running in the calling thread or task; 0 outside."""
        return _current_call.get()[1]

    # -- the probe ------------------------------------------------------------------
    def run(self, fn: Callable[..., Any], *args: Any, threads: int | None = None, rounds: int | None = None,
            **kwargs: Any) -> RaceResults:
        """Call `fn(*args, **kwargs)` in `threads` threads released together, `rounds` times.

        Returns every result (see RaceResults); raises RaceError naming the round, the
        thread and the exception of every call that raised.
        """
        __tracebackhide__ = True
        try:
            threads = check_threads(self.threads if threads is None else threads, "race.run")
            rounds = check_rounds(self.rounds if rounds is None else rounds, "race.run")
            schedule = check_schedule(self.schedule, "race.schedule")
            if not callable(fn):
                raise RaceUsageError(f"race.run: the first argument must be the function to call, got {fn!r}")
        except RaceUsageError as exc:
            pytest.fail(str(exc), pytrace=False)
        probe = Probe(function=_name(fn), threads=threads, rounds=rounds,
                      seed=derive_seed(self.seed, len(self.probes)), schedule=schedule)
        self.probes.append(probe)
        started = time.perf_counter()
        try:
            if _is_async(fn):
                by_round = self._run_async(probe, functools.partial(fn, *args, **kwargs))
            else:
                by_round = self._run_threads(probe, functools.partial(fn, *args, **kwargs))
        finally:
            probe.seconds = time.perf_counter() - started
            probe.calls = threads * rounds
            if self._on_probe is not None:
                self._on_probe(probe)
        if probe.failures:
            first = probe.failures[0].exception
            raise RaceError(self._failure_text(probe)) from first
        return RaceResults(by_round)

    def _run_threads(self, probe: Probe, call: Callable[[], Any]) -> list[list[Any]]:
        threads, rounds = probe.threads, probe.rounds
        results: list[list[Any]] = [[None] * threads for _ in range(rounds)]
        failures: list[ThreadFailure] = []
        lock = threading.Lock()
        barrier = threading.Barrier(threads, timeout=self.timeout)
        deadline = time.monotonic() + self.timeout
        perturbation = Perturbation(probe.seed, self.own, threads=threads) if probe.schedule == "stagger" else None
        schedulers = [ControlledScheduler(probe.seed, self.own, threads, r) for r in range(rounds)] \
            if probe.schedule == "controlled" else []
        stuck: list[str] = []
        running = [0] * rounds  # threads past the barrier, per round

        def all_running(r: int) -> None:
            # Threads leave a barrier one by one as the OS wakes them; an amplified probe
            # waits (giving the GIL away) until every thread of the round is awake.
            with lock:
                running[r] += 1
            while running[r] < threads and time.monotonic() < deadline:
                time.sleep(0)

        def worker(index: int) -> None:
            for r in range(rounds):
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    return
                if perturbation is not None:
                    all_running(r)
                _current_call.set((r + 1, index + 1))
                try:
                    if perturbation is not None:
                        restore = perturbation.install(r, index)
                        try:
                            results[r][index] = call()
                        finally:
                            restore()
                    elif schedulers:
                        leave = schedulers[r].enter(index)
                        try:
                            results[r][index] = call()
                        finally:
                            leave()
                    else:
                        results[r][index] = call()
                except BaseException as exc:  # every exception of every thread is part of the answer
                    with lock:
                        failures.append(ThreadFailure(r + 1, index + 1, exc, self._describe(exc)))

        with InterpreterSettings():
            if perturbation is not None:
                perturbation.start()
            workers = [ProbeThread(target=worker, args=(i,), name=f"race-{i + 1}", daemon=True)
                       for i in range(threads)]
            try:
                for thread in workers:
                    thread.start()
                for thread in workers:
                    thread.join(max(0.0, deadline - time.monotonic()))
                    if thread.is_alive():
                        stuck.append(thread.name)
            finally:
                if perturbation is not None:
                    perturbation.stop()
                    probe.perturbations = perturbation.yields
                probe.stalls = sum(s.stalls for s in schedulers)
                if stuck:
                    barrier.abort()
        failures.sort(key=lambda f: (f.round, f.thread))
        probe.failures = failures
        if stuck:
            probe.failures.append(ThreadFailure(0, 0, TimeoutError(), (
                f"{len(stuck)} thread(s) ({', '.join(stuck)}) did not finish within {self.timeout:g}s: a deadlock, "
                "or a call that blocks forever (they are left running in the background)")))
        return results

    def _run_async(self, probe: Probe, call: Callable[[], Any]) -> list[list[Any]]:
        """Tasks of one event loop (in a thread of its own, so a test's running loop does not matter)."""
        threads, rounds = probe.threads, probe.rounds
        results: list[list[Any]] = [[None] * threads for _ in range(rounds)]
        failures: list[ThreadFailure] = []
        perturb = probe.schedule != "none"
        hops = [0]

        async def one_round(r: int) -> None:
            go = asyncio.Event()

            async def task(index: int) -> None:
                await go.wait()
                _current_call.set((r + 1, index + 1))
                try:
                    coroutine = call()
                    rng = _rng(probe.seed, r, index)
                    results[r][index] = await (_Perturbed(coroutine, rng, hops) if perturb else coroutine)
                except BaseException as exc:
                    failures.append(ThreadFailure(r + 1, index + 1, exc, self._describe(exc)))

            tasks = [asyncio.ensure_future(task(i)) for i in range(threads)]
            await asyncio.sleep(0)  # every task is waiting at the start line
            go.set()
            await asyncio.gather(*tasks)

        async def storm() -> None:
            for r in range(rounds):
                await one_round(r)

        box: list[BaseException] = []

        def loop_thread() -> None:
            try:
                asyncio.run(asyncio.wait_for(storm(), self.timeout))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=loop_thread, name="race-loop", daemon=True)
        thread.start()
        thread.join(self.timeout + 5)
        failures.sort(key=lambda f: (f.round, f.thread))
        probe.failures = failures
        probe.perturbations = hops[0]
        if box or thread.is_alive():
            what = f"{type(box[0]).__name__}: {box[0]}" if box else "it did not stop"
            probe.failures.append(ThreadFailure(0, 0, box[0] if box else TimeoutError(),
                                                f"the probe's event loop failed ({what}); "
                                                f"timeout {self.timeout:g}s"))
        return results

    # -- invariants ------------------------------------------------------------------
    def assert_distinct(self, values: Iterable[Any], what: str = "results") -> None:
        """Every value differs (ids handed out, tickets sold...); names the calls that collided."""
        __tracebackhide__ = True
        items = list(values)
        positions: dict[Any, list[int]] = {}
        for index, value in enumerate(items):
            positions.setdefault(_hashable(value), []).append(index)
        duplicates = {value: where for value, where in positions.items() if len(where) > 1}
        if not duplicates:
            return
        namer = values.where if isinstance(values, RaceResults) else (lambda i: f"#{i + 1}")
        lines = []
        for value, where in list(duplicates.items())[:SHOWN_FAILURES]:
            shown = ", ".join(namer(i) for i in where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
            lines.append(f"  {value!r} x{len(where)}: {shown}")
        if len(duplicates) > SHOWN_FAILURES:
            lines.append(f"  ... {len(duplicates) - SHOWN_FAILURES} more duplicated values")
        extra = sum(len(w) - 1 for w in duplicates.values())
        raise RaceError("\n".join([f"race: {extra} duplicate {what} among {len(items)} (expected all distinct){self._seed_note()}",
                                   *lines, *self._replay_lines()]))

    def assert_total(self, final: Any, effects: Iterable[Any], start: Any = 0, what: str = "final value") -> None:
        """`final == start + sum(effects)`: no update was lost or applied twice."""
        __tracebackhide__ = True
        effects = list(effects)
        expected = start + sum(effects)
        if final == expected:
            return
        difference = final - expected
        raise RaceError("\n".join([
            f"race: {what} is {final!r}, expected {start!r} + the sum of {len(effects)} effects = {expected!r} "
            f"(off by {difference!r}: updates were lost or applied twice under concurrency){self._seed_note()}",
            *self._replay_lines()]))

    # -- text --------------------------------------------------------------------------
    def _describe(self, exc: BaseException) -> str:
        return describe_exception(exc, self.own)

    def _seed_note(self) -> str:
        return f" (seed {self.seed})"

    def _replay_lines(self) -> list[str]:
        return [f"replay: {self.replay}"] if self.replay else []

    def _failure_text(self, probe: Probe) -> str:
        failures = probe.failures
        rounds_hit = len({f.round for f in failures if f.round})
        head = (f"race: {len(failures)} of {probe.calls} calls of {probe.function} raised, in {rounds_hit} of "
                f"{probe.rounds} rounds ({probe.threads} threads, {probe.schedule} schedule, seed {self.seed}"
                + (f", probe {len(self.probes)}" if len(self.probes) > 1 else "") + ")")
        lines = [head]
        kinds = Counter(f.text for f in failures)
        shown = 0
        for failure in failures:
            if shown >= SHOWN_FAILURES:
                break
            where = f"round {failure.round}, thread {failure.thread}" if failure.round else "probe"
            lines.append(f"  {where}: {failure.text}")
            shown += 1
        if len(failures) > shown:
            lines.append(f"  ... {len(failures) - shown} more: " + "; ".join(
                f"{text} x{count}" for text, count in kinds.most_common(3)))
        return "\n".join([*lines, *self._replay_lines()])


def _name(fn: Callable[..., Any]) -> str:
    target = fn.func if isinstance(fn, functools.partial) else fn
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or type(target).__name__
    return str(name)


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)
