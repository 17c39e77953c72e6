"""The stagger schedule of race probes: seeded GIL hand-offs that make a race window of a few lines show up.

A thread switch under the GIL happens every `sys.getswitchinterval()` (5 ms)
or when a thread blocks; a read-modify-write of a few lines runs in well under
that, so two threads almost never interleave inside it. Two things change that:

- a tiny switch interval (1 µs), as pytest-run-parallel does: switches happen
  often, but at bytecode boundaries the scheduler picks, not inside the window;
- a seeded line hook (`sys.settrace`) in the probe's threads that, at random
  lines of the project's own code, gives the GIL away (`time.sleep(0)`): the
  other threads, all waiting for the GIL behind the barrier, run in between.
  The decisions come from `random.Random(f"{seed}:{round}:{thread}")`, so the
  same seed makes the same decisions at the same line visits (a replay of the
  stagger schedule; the OS still decides which waiting thread gets the GIL).

Requests to an in-process app (the `api` fixture, the automatic probe) are
answered in threads the probe did not start: an ASGI app's worker pool, whose
threads exist before the probe and which `threading.settrace` never reaches
(Python 3.11 has no `settrace_all_threads`), so the hook is installed in them
by running a function in each through the pool itself (serving.py). And
concurrent requests reach the app's code milliseconds apart (the server's
machinery takes them one by one), far more than a check-then-insert window
lasts: :class:`Gathering` lines them up each time the framework calls the app.

Async probes run as tasks of one event loop: :class:`_Perturbed` gives way a seeded
number of extra times after each suspension of a task, so tasks resume in shuffled order.

Which code is the project's (and so traced) is tracing.py's `OwnCode`; the
deterministic alternative, one thread at a time, is scheduler.py.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from types import FrameType
from typing import Any

from pytest_backend_gates.gates.race.tracing import (
    OwnCode,
    ProbeThread,
    TraceFunction,
    reinstate,
)
from pytest_backend_gates.service import serving
from pytest_backend_gates.service.in_flight import answering, requests_in_flight

DEFAULT_PROBABILITY = 0.5  # of giving the GIL away at a traced line
SWITCH_INTERVAL = 1e-6  # seconds, while a probe runs
GATHER_TIMEOUT = 0.1  # seconds a request waits at most for the others at a stage (Gathering)
GATHER_SPINS = 2000  # turns a waiting request looks at the others as fast as it can
GATHER_POLL = 0.0002  # seconds between later looks
MAX_STACK = 400  # frames looked at under a call of the app's code


class Gathering:
    """Where concurrent requests line up each time the framework calls the app's own code.

    Concurrent requests do not reach the app's code together: each first passes the server's
    machinery (an ASGI app's event loop handles them one at a time and hands each to a worker
    thread), so they arrive milliseconds apart, while a check-then-insert window lasts a
    fraction of that. So each time the framework calls into the app's code for a request
    (a dependency, the endpoint, a view method: a *stage*), the thread answering it waits until
    every other request in flight has reached that stage too (or finished); then they run the
    stage together, as the probe's threads run a function together after its barrier.

    `timeout` bounds a wait: a request that does not come (held by a lock another waiting
    request holds, or answered where nothing is traced) is not waited for again.
    """

    def __init__(self, in_flight: Callable[[], tuple[Any, ...]], timeout: float = GATHER_TIMEOUT) -> None:
        self.in_flight = in_flight
        self.timeout = timeout
        self.stages = 0  # stages entered by requests
        self.timeouts = 0  # waits that ended without every request

    def enter(self, request: Any) -> None:
        """`request` (in_flight.Answering) enters its next stage: wait for the others to reach it."""
        request.stage += 1
        stage = request.stage
        self.stages += 1
        deadline = time.monotonic() + self.timeout
        # Arrived: every other request is at this stage or past it. Then running: every other
        # request of this stage has seen that too (the last one to arrive would otherwise run
        # the stage alone while the others notice, one by one).
        arrived = self._wait(request, deadline, lambda r: r.stage >= stage)
        request.released = stage
        if arrived:
            self._wait(request, deadline, lambda r: r.stage > stage or r.released >= stage)

    def _wait(self, request: Any, deadline: float, ready: Callable[[Any], bool]) -> bool:
        spins = 0
        while True:
            waiting = [r for r in self.in_flight() if r is not request and r.followed and not ready(r)]
            if not waiting:
                return True
            if time.monotonic() >= deadline:
                for late in waiting:
                    late.followed = False
                self.timeouts += 1
                return False
            # Spun, not waited on a condition: threads woken by a notify leave one by one (each
            # takes the lock back in turn). Each turn gives the GIL away; after a while the turns
            # slow down to spare the CPU.
            spins += 1
            time.sleep(0 if spins < GATHER_SPINS else GATHER_POLL)


class Perturbation:
    """Seeded GIL hand-offs at the project's lines, installed in the threads of one probe.

    `install(round, thread)` is called inside each probe thread; threads the
    probed code itself starts while the probe runs (a server's worker threads)
    get the hook too, through `threading.settrace`, with their own decisions,
    and so do the worker threads of in-process ASGI apps that exist already
    (`start`). Requests answered in those threads line up at each call of the
    app's code (Gathering). Another tracer already there (coverage.py, a
    debugger) keeps running: the hook calls it for every event it receives.
    """

    def __init__(self, seed: int, own: OwnCode, probability: float = DEFAULT_PROBABILITY, threads: int = 8) -> None:
        self.seed = seed
        self.own = own
        self.probability = probability
        self.threads = threads
        self.active = False
        self.yields = 0  # GIL hand-offs made (approximate under concurrency)
        self._answering = answering
        self._serving = serving
        self._serving_file = serving.__file__
        self.gathering = Gathering(requests_in_flight)
        self._spawned = 0
        self._adopted = 0
        self._lock = threading.Lock()
        self._previous_thread_hook: Any = None

    # -- lifecycle (called by the probe's main thread) -------------------------
    def start(self) -> None:
        self.active = True
        self._previous_thread_hook = threading.gettrace()
        sys.setswitchinterval(SWITCH_INTERVAL)
        threading.settrace(self._thread_started)
        # Threads that answer requests and exist already (an ASGI app's worker pool) get the hook
        # too: two per probe thread, as a request may hold one worker while the next is taken.
        self._serving.run_in_serving_threads(self._adopt, 2 * self.threads)

    def stop(self) -> None:
        self.active = False
        threading.settrace(self._previous_thread_hook)

    # -- installing in a thread --------------------------------------------------
    def install(self, round_index: int, thread_index: int) -> Callable[[], None]:
        """Trace this thread; returns the function that puts the previous tracer back."""
        previous: Any = sys.gettrace()
        rng = random.Random(f"{self.seed}:{round_index}:{thread_index}")
        sys.settrace(self._tracer(rng, previous))
        return lambda: sys.settrace(previous)

    def _thread_started(self, frame: FrameType, event: str, arg: Any) -> Any:
        # First trace event of a thread started while the hook was set (threading.settrace).
        sys.settrace(None)
        local = None
        if self._previous_thread_hook is not None:  # e.g. coverage.py starting in the new thread
            local = self._previous_thread_hook(frame, event, arg)
        if not self.active or isinstance(threading.current_thread(), ProbeThread):
            return local  # the probe's own threads install their hook per round (install)
        with self._lock:
            self._spawned += 1
            spawned = self._spawned
        current: Any = sys.gettrace()
        tracer = self._tracer(random.Random(f"{self.seed}:spawned:{spawned}"), current)
        sys.settrace(tracer)
        return tracer(frame, event, arg) if local is None else local

    def _adopt(self) -> None:
        """Trace the calling thread, one that existed before the probe (see `start`)."""
        with self._lock:
            self._adopted += 1
            adopted = self._adopted
        previous: Any = sys.gettrace()
        # The hook of an earlier probe stays in an idle worker until its next call: not chained twice.
        while hasattr(previous, "backend_gates_previous") and not previous.backend_gates_perturbation.active:
            previous = previous.backend_gates_previous
        sys.settrace(self._tracer(random.Random(f"{self.seed}:adopted:{adopted}"), previous))

    def _line_up(self, frame: FrameType) -> None:
        """A call of the app's code: if the framework makes it for a request (see `_from_the_framework`),
        the request waits here for the others (Gathering). Not in a thread that runs an event
        loop: that one must go on serving the other requests."""
        request = self._answering()
        if request is None or not request.followed or not self._from_the_framework(frame) or _in_event_loop():
            return
        self.gathering.enter(request)

    def _from_the_framework(self, frame: FrameType) -> bool:
        """Is this call of the app's code made by the framework, with no frame of the app's own
        code under it: a dependency, an endpoint, a view method, a stage every request passes?
        Not a callback of a library the app's code called (a connection listener, which only
        the requests that open a connection run). The search stops at the in-process wrapper:
        what sent the request (a test's own function) is not the app."""
        caller = frame.f_back
        depth = 0
        verdicts, judge, wrapper = self.own.verdicts, self.own.judge, self._serving_file
        while caller is not None and depth < MAX_STACK:
            code = caller.f_code
            if code.co_filename == wrapper:
                return True
            mine = verdicts.get(code)
            if mine is None:
                mine = judge(code)
            if mine:
                return False
            caller = caller.f_back
            depth += 1
        return caller is None

    def _tracer(self, rng: random.Random, previous: TraceFunction | None) -> TraceFunction:
        own = self.own
        probability = self.probability
        perturbation = self
        line_up = self._line_up

        def line_hook(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "line" and perturbation.active and rng.random() < probability:
                perturbation.yields += 1
                time.sleep(0)  # releases the GIL: a waiting thread runs now
            return line_hook

        def chained_line_hook(inner: TraceFunction) -> TraceFunction:
            def hook(frame: FrameType, event: str, arg: Any) -> Any:
                nonlocal inner
                result = inner(frame, event, arg)
                if result is not None:
                    inner = result
                line_hook(frame, event, arg)
                return hook
            return hook

        verdicts = own.verdicts
        judge = own.judge

        def global_hook(frame: FrameType, event: str, arg: Any) -> Any:
            # Called for every function call of the thread: kept as cheap as possible.
            local = previous(frame, event, arg) if previous is not None else None
            if not perturbation.active:
                if sys.gettrace() is global_hook:  # the probe is over: leave this thread alone
                    sys.settrace(previous)
                return local
            if previous is not None and sys.gettrace() is not global_hook:
                reinstate(global_hook)
            code = frame.f_code
            mine = verdicts.get(code)
            if mine is None:
                mine = judge(code)
            if not mine:
                return local
            if event == "call":
                line_up(frame)
            return line_hook if local is None else chained_line_hook(local)

        global_hook.backend_gates_previous = previous  # type: ignore[attr-defined]
        global_hook.backend_gates_perturbation = perturbation  # type: ignore[attr-defined]
        return global_hook


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _rng(seed: int, r: int, index: int) -> random.Random:
    return random.Random(f"{seed}:{r}:{index}:async")


class _Perturbed:
    """Drives a coroutine; after each of its suspensions it may give way a seeded number of
    extra times (a bare `yield` is `asyncio.sleep(0)`), so tasks resume in shuffled order."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], rng: Any, hops: list[int]) -> None:
        self.coroutine = coroutine
        self.rng = rng
        self.hops = hops

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, rng = self.coroutine, self.rng
        for _ in range(rng.randrange(3)):  # staggered start
            yield None
        send: Any = None
        error: BaseException | None = None
        while True:
            try:
                suspended = coroutine.throw(error) if error is not None else coroutine.send(send)
            except StopIteration as stop:
                return stop.value
            try:
                send, error = (yield suspended), None
            except BaseException as exc:  # cancellation and errors go to the coroutine
                send, error = None, exc
                continue
            if error is None and rng.random() < 0.5:
                for _ in range(1 + rng.randrange(3)):
                    self.hops[0] += 1
                    try:
                        yield None
                    except BaseException as exc:
                        error = exc
                        break
