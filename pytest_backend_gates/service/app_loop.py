"""An ASGI app's own event loop and its lifespan, under the in-process wrapper (serving.py).

The app runs on one loop (one thread), whoever calls it: schemathesis' own when schemathesis
is loaded, else one of ours. Its lifespan startup runs once on that loop, so what the startup
created (an async engine, a pool) is used from the loop that created it; schemathesis ends
lifespans after every test item, which is answered as a server would: later startups are
acknowledged with the app's state, shutdowns happen at exit.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any


class AppLoop:
    """The loop an ASGI app runs on, and its lifespan started once: the part of
    serving.ASGIServed that is not answering requests."""

    app: Any

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._portal: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._startup: asyncio.Future[None] | None = None
        self._lifespan_task: asyncio.Task[None] | None = None
        self._state: dict[str, Any] = {}
        self._shutdown: asyncio.Queue[dict[str, Any]] | None = None

    # -- the app's loop --------------------------------------------------------
    def portal(self) -> Any:
        """The portal of the app's loop: schemathesis' own when schemathesis is loaded (it calls
        every ASGI app from that loop, so its requests reach the app with no hop between threads),
        else one of our own."""
        if self._portal is not None:
            return self._portal
        shared = _schemathesis_portal()
        # Outside the lock: finding the shared loop may need that loop, whose thread may be
        # waiting for this lock in __call__.
        loop = _loop_of(shared) if shared is not None else None
        with self._lock:
            if self._portal is None:
                if shared is not None:
                    self._portal, self._loop = shared, loop
                else:
                    # anyio only once an ASGI app is served without schemathesis' loop
                    from anyio.from_thread import start_blocking_portal

                    stack = ExitStack()
                    self._portal = stack.enter_context(start_blocking_portal())
                    self._loop = self._portal.call(asyncio.get_running_loop)
                    self._stack = stack
            return self._portal

    def call(self, function: Callable[[], Any]) -> Any:
        """Run the coroutine function on the app's loop, from a thread outside it."""
        return self.portal().call(function)

    def run_in_worker_threads(self, function: Callable[[], None], count: int, timeout: float = 1.0) -> None:
        """Run `function` once in each of `count` distinct threads of the app's anyio worker pool,
        where Starlette and FastAPI run sync endpoints and dependencies: also in the idle workers
        earlier requests left, which `threading.settrace` does not reach (it only sees threads
        started after it). Each call waits at a barrier until all `count` run at once, so no
        worker takes two; a pool with fewer free workers (its limiter's tokens) breaks the barrier
        after `timeout` and the workers that came have run it."""
        with self._lock:
            portal = self._portal
        if portal is None:
            return  # no request was answered yet: the pool has no worker
        # anyio only when an ASGI app's worker pool is reached (the race probe)
        import anyio
        import anyio.to_thread

        barrier = threading.Barrier(count, timeout=timeout)

        def job() -> None:
            function()
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass

        async def spread() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(count):
                    group.start_soon(anyio.to_thread.run_sync, job)

        try:
            portal.call(spread)
        except RuntimeError:  # the loop is closing (end of session): no request will be answered there
            pass

    def start(self) -> None:
        """Run the app's lifespan startup (once); raises what the startup failed with."""
        self.call(self._ensure_started)

    async def _ensure_started(self) -> None:
        if self._startup is None:
            loop = asyncio.get_running_loop()
            self._startup = loop.create_future()
            self._shutdown = asyncio.Queue()
            inbox: asyncio.Queue[dict[str, Any]] = self._shutdown
            inbox.put_nowait({"type": "lifespan.startup"})
            startup = self._startup
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}

            async def app_send(message: dict[str, Any]) -> None:
                if startup.done():
                    return
                if message["type"] == "lifespan.startup.complete":
                    startup.set_result(None)
                elif message["type"] == "lifespan.startup.failed":
                    startup.set_exception(RuntimeError(message.get("message") or "lifespan startup failed"))

            def finished(task: asyncio.Task[None]) -> None:
                # An app without lifespan support returns or raises at once: it runs without one.
                if not startup.done():
                    startup.set_result(None)

            self._lifespan_task = loop.create_task(self.app(scope, inbox.get, app_send))
            self._lifespan_task.add_done_callback(finished)
        await asyncio.shield(self._startup)

    def close(self) -> None:
        """End the lifespan (the app's shutdown) and stop our loop (schemathesis stops its own at
        exit); at the end of the session."""
        with self._lock:
            portal, stack = self._portal, self._stack
            self._portal = self._stack = None
        if portal is None:
            return
        try:
            portal.call(self._end_lifespan)
        except Exception:  # noqa: S110 - a failing shutdown at exit has nobody to tell
            pass
        finally:
            if stack is not None:
                stack.close()

    async def _end_lifespan(self) -> None:
        task, inbox = self._lifespan_task, self._shutdown
        if task is None or inbox is None or task.done():
            return
        inbox.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except (asyncio.TimeoutError, Exception):
            task.cancel()

    # -- on the app's loop, from any loop --------------------------------------
    async def _on_home(self, coroutine_function: Callable[[], Any]) -> Any:
        """Await a coroutine on the app's loop, from whichever loop this runs on."""
        home = self._loop
        assert home is not None
        if asyncio.get_running_loop() is home:
            return await coroutine_function()
        future = asyncio.run_coroutine_threadsafe(coroutine_function(), home)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def _answer_lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # lifespan.startup
        try:
            await self._on_home(self._ensure_started)
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        if isinstance(scope.get("state"), dict) and scope["state"] is not self._state:
            scope["state"].update(self._state)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown: the app keeps running, as under a server
        await send({"type": "lifespan.shutdown.complete"})


def _schemathesis_portal() -> Any | None:
    """The blocking portal of the event-loop thread from which schemathesis 4.x calls every ASGI
    app (`schemathesis.python.asgi`, one loop per process). A private function of schemathesis:
    without it the app gets a loop of its own, and schemathesis' requests are carried over to it
    (the same answers, more thread hops). Not imported for a passive run that has not loaded
    schemathesis."""
    if "schemathesis" not in sys.modules:
        return None
    try:
        from schemathesis.python import asgi
    except ImportError:
        return None
    get_portal = getattr(asgi, "_get_portal", None)
    return get_portal() if callable(get_portal) else None


def _loop_of(portal: Any) -> asyncio.AbstractEventLoop:
    try:
        loop: asyncio.AbstractEventLoop = portal.call(asyncio.get_running_loop)
    except RuntimeError:  # anyio refuses calls from the portal's own thread: the loop running here
        return asyncio.get_running_loop()
    return loop
