"""The load gate's locust process: `python -m pytest_backend_gates.gates.load.runner RUN.json`.

Runs in its own process (and process group) so that gevent's monkey-patching,
which `import locust` performs, never touches the pytest process. It uses
locust's library API (docs.locust.io, "Using Locust as a library"):
`locust.env.Environment`, a local runner, or a master runner with `workers`
local workers started as ordinary `locust --worker` processes, as locust's
docs recommend, plus `remote_workers` started elsewhere with the same command,
which the master waits for (`worker_timeout`). `WorkerWatch` follows them: the
workers that took part, their requests, and those lost during the run.

Protocol with the gate (load.py):
- stdout: one line per event, `@@backend-gates-load {json}`: `waiting` when a
  master waits for its workers (the gate's deadline then becomes the
  `worker_timeout`), `started` when the users start spawning, `progress` every
  few seconds; any other output (a locustfile's prints) is ignored by the gate.
- the file named by `output` in RUN.json: on success the serialised stats
  (locust's own `StatsEntry.serialize()`: counts, response-time histogram,
  min/max/total times) of every endpoint and of the total, the error table,
  user exceptions and the measured run time; with workers, how many took
  part, the requests of each, and those lost or late; on failure `{"error": kind,
  "message": text}`. Exit status 0 or 2.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

EVENT_PREFIX = "@@backend-gates-load "
WORKER_CONNECT_TIMEOUT_S = 30.0


class RunError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def emit(event: str, **data: Any) -> None:
    sys.stdout.write(EVENT_PREFIX + json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def load_user_classes(path: str) -> list[Any]:
    """The locustfile's runnable User classes (as locust's own loader picks them)."""
    from locust import User

    directory = str(Path(path).parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = Path(path).stem if Path(path).stem != "locust" else "locustfile"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RunError("locustfile", f"{path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames) if f.filename == path), "")
        raise RunError("locustfile", f"importing {path} failed: {type(exc).__name__}: {exc}"
                       + (f" (at {where})" if where else "")) from None
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, User) and not value.abstract]
    if not classes:
        raise RunError("locustfile", f"{path} defines no locust User class (a subclass of HttpUser or "
                       "FastHttpUser with at least one @task)")
    return classes


class Timeline:
    """Samples taken every `step` seconds of the run, for the load-over-time report: [seconds since
    the start, users running, p95 (ms, locust's rounded times) of the responses that came in since
    the last sample, or None]. Requests and failures per second need no sampling: locust counts
    them per second itself (num_reqs_per_sec, also merged from workers)."""

    def __init__(self, step: float) -> None:
        self.step = max(1.0, step)
        self.next_at = self.step
        self.points: list[list[Any]] = []
        self._seen: dict[int, int] = {}  # the response-time histogram at the last sample

    def sample(self, elapsed: float, total: Any, users: int) -> None:
        from locust.stats import calculate_response_time_percentile

        now = dict(total.response_times)
        new = {ms: count - self._seen.get(ms, 0) for ms, count in now.items() if count > self._seen.get(ms, 0)}
        answered = sum(new.values())
        p95 = calculate_response_time_percentile(new, answered, 0.95) if answered else None
        self.points.append([round(elapsed, 2), users, p95])
        self._seen = now
        while self.next_at <= elapsed:
            self.next_at += self.step


def _start_workers(run: dict[str, Any], host: str, port: int) -> list[subprocess.Popen[bytes]]:
    """The local workers: the same `locust --worker` command a worker on another machine runs."""
    if not run["workers"]:
        return []
    log = open(Path(run["output"]).with_suffix(".workers.log"), "ab")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "locust", "-f", run["locustfile"], "--worker",
               "--master-host", host, "--master-port", str(port), "--loglevel", "WARNING",
               "--stop-timeout", f"{math.ceil(run['drain'])}s"]  # whole seconds only
    return [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=run["cwd"])
            for _ in range(run["workers"])]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _connect_host(bind_host: str) -> str:
    """Where local workers reach a master bound to `bind_host`: a wildcard is reached on loopback."""
    return "127.0.0.1" if bind_host in ("0.0.0.0", "*", "::", "") else bind_host


class WorkerWatch:
    """What the master sees of its workers, through locust's public events: the stats reports
    (requests per worker) and heartbeats of each, and the workers lost during the run.

    Locust's master keeps going when a worker dies: SIGTERM makes the worker say `quit` (it leaves
    `runner.clients` at once), SIGKILL or a lost machine only stops its heartbeats (the master marks
    it `missing` after about 4 s). Its users are then gone, not moved (rebalancing is off in library
    mode), and so are its requests since its last report (every 3 s): the figures are no longer the
    configured load, which the gate must say rather than judge."""

    STALE_S = 2.5  # heartbeats come every second: none for this long before the stop is a dead worker

    def __init__(self, env: Any) -> None:
        self.requests: dict[str, int] = {}
        self.reported: dict[str, float] = {}  # client id -> monotonic time of its last stats report
        self.heartbeat: dict[str, float] = {}  # client id -> monotonic time of its last heartbeat
        self.taking_part: list[str] = []  # the workers connected when the users started
        self.lost: dict[str, dict[str, Any]] = {}
        env.events.worker_report.add_listener(self._on_report)
        # Fired as the master answers each worker heartbeat. Without it (an older locust), a worker
        # with no final report is only ever late, never taken for dead.
        hook = getattr(env.events, "heartbeat_sent", None)
        self.heartbeats_seen = hook is not None
        if hook is not None:
            hook.add_listener(self._on_heartbeat)

    def _on_report(self, client_id: str, data: Any, **kwargs: Any) -> None:
        self.reported[client_id] = time.monotonic()
        total = (data.get("stats_total") or {}) if isinstance(data, dict) else {}
        self.requests[client_id] = self.requests.get(client_id, 0) + int(total.get("num_requests") or 0)

    def _on_heartbeat(self, client_id: str, timestamp: float = 0.0, **kwargs: Any) -> None:
        self.heartbeat[client_id] = time.monotonic()

    def start(self, runner: Any) -> None:
        now = time.monotonic()
        self.taking_part = sorted(c.id for c in runner.clients.all if c.state != "missing")
        for client_id in self.taking_part:
            self.heartbeat.setdefault(client_id, now)

    def check(self, runner: Any, elapsed: float) -> None:
        """Workers that left (`quit`) or went `missing` since the users started."""
        for client_id in self.taking_part:
            if client_id in self.lost:
                continue
            client = runner.clients.get(client_id)
            if client is None:
                self._lose(client_id, elapsed, "it quit or disconnected")
            elif client.state == "missing":
                self._lose(client_id, elapsed, "it stopped sending heartbeats")

    def at_stop(self, stopped: float, started: float) -> list[str]:
        """After the final reports were awaited: the workers still there that sent none. One whose
        heartbeats had already stopped before the stop is dead (lost); the others are late."""
        late = []
        for client_id in self.taking_part:
            if client_id in self.lost or self.reported.get(client_id, 0.0) > stopped:
                continue
            last = self.heartbeat.get(client_id, started)
            if self.heartbeats_seen and last < stopped - self.STALE_S:
                self._lose(client_id, last - started, "it stopped answering (no heartbeat, no final report)")
            else:
                late.append(client_id)
        return late

    def _lose(self, client_id: str, elapsed: float, why: str) -> None:
        self.lost[client_id] = {"worker": client_id, "after_s": round(max(0.0, elapsed), 1), "why": why}


def run_load(run: dict[str, Any]) -> dict[str, Any]:
    try:
        import gevent
        from locust.env import Environment
    except ImportError as exc:
        raise RunError("locust-missing", f"{type(exc).__name__}: {exc}") from None
    user_classes = load_user_classes(run["locustfile"])
    env = Environment(user_classes=user_classes, host=run["host"], stop_timeout=run["drain"],
                      catch_exceptions=True)
    workers: list[subprocess.Popen[bytes]] = []
    expected = run["workers"] + run.get("remote_workers", 0)
    watch: WorkerWatch | None = None
    runner: Any = None
    try:
        if expected:
            bind_host, port = run.get("master_bind_host") or "127.0.0.1", run.get("master_port") or _free_port()
            master = f"{bind_host}:{port}"
            try:
                runner = env.create_master_runner(master_bind_host=bind_host, master_bind_port=port)
            except Exception as exc:  # locust's RPCError: the address is taken, or not this machine's
                raise RunError("workers", f"the locust master cannot listen on {master} (master_bind): "
                               f"{type(exc).__name__}: {exc}") from None
            watch = WorkerWatch(env)
            workers = _start_workers(run, _connect_host(bind_host), port)
            timeout = float(run.get("worker_timeout") or WORKER_CONNECT_TIMEOUT_S)
            emit("waiting", workers=expected, master=master, timeout=timeout)
            deadline = time.monotonic() + timeout
            while runner.worker_count < expected:
                dead = [w for w in workers if w.poll() is not None]
                if dead or time.monotonic() > deadline:
                    why = (f"a local worker exited with status {dead[0].returncode}: see locust's output" if dead
                           else f"none more within workers_timeout = {timeout:g}s")
                    remote = run.get("remote_workers", 0)
                    hint = (f"; each worker on another machine runs `locust -f <the locustfile> --worker "
                            f"--master-host <this machine> --master-port {port}`" if remote else "")
                    raise RunError("workers", f"{runner.worker_count} of {expected} locust workers connected to "
                                   f"the master at {master} ({why}){hint}; no load was sent, so there is no "
                                   "verdict on the load")
                gevent.sleep(0.1)
            watch.start(runner)
        else:
            runner = env.create_local_runner()
        runner.start(run["users"], spawn_rate=run["spawn_rate"])
        started, started_at = time.monotonic(), time.time()
        emit("started", workers=len(watch.taking_part) if watch else 0)
        duration, every = run["duration"], run["progress_every"]
        timeline = Timeline(float(run.get("history_step") or every))
        next_progress = every
        while (elapsed := time.monotonic() - started) < duration:
            # At most a second asleep: a worker lost is noticed (and said) while the run goes.
            gevent.sleep(max(0.0, min(next_progress, timeline.next_at, duration, elapsed + 1.0) - elapsed))
            elapsed = time.monotonic() - started
            total = runner.stats.total
            if watch is not None:
                watch.check(runner, elapsed)
            if elapsed >= timeline.next_at or elapsed >= duration:  # the last, partial step too
                timeline.sample(elapsed, total, runner.user_count)
            if elapsed >= next_progress or elapsed >= duration:
                next_progress += every
                emit("progress", elapsed=round(elapsed, 1), users=runner.user_count,
                     requests=total.num_requests, failures=total.num_failures, rps=round(total.current_rps, 1),
                     p95_ms=total.get_response_time_percentile(0.95) if total.num_requests else None)
        stopped = time.monotonic()
        late: list[str] = []
        if watch is not None:
            # Each worker lets its users finish the request they are in (the master's stop_timeout),
            # sends a final report and exits; a report later than drain + 3 s is missing from the stats.
            runner.send_message("quit")
            limit = time.monotonic() + run["drain"] + 3.0
            waiting_for = [w for w in watch.taking_part if w not in watch.lost]
            while time.monotonic() < limit and any(watch.reported.get(w, 0.0) <= stopped for w in waiting_for):
                gevent.sleep(0.05)
            late = watch.at_stop(stopped, started)
        else:
            runner.stop()  # users finish the request they are in, up to `drain` seconds
        elapsed = time.monotonic() - started
        stats = runner.stats
        return {
            "entries": [entry.serialize() for entry in stats.entries.values()],
            "total": stats.total.serialize(),
            "errors": list(stats.serialize_errors().values()),
            "exceptions": [{"count": e["count"], "msg": e["msg"], "nodes": sorted(e.get("nodes") or [])}
                           for e in runner.exceptions.values()],
            "elapsed": elapsed,
            "started_at": started_at,  # epoch seconds: the per-second counts of the entries are keyed by epoch second
            "timeline": timeline.points,
            "workers": len(watch.taking_part) if watch else 0,
            "per_worker": {w: watch.requests.get(w, 0) for w in watch.taking_part} if watch else {},
            "lost_workers": list(watch.lost.values()) if watch else [],
            "late_workers": len(late),
            "user_classes": [cls.__name__ for cls in user_classes],
        }
    finally:
        if runner is not None:
            # Also on an error: workers on other machines are told to quit, not left waiting.
            try:
                runner.quit()
            except Exception:  # noqa: BLE001 - the run's own outcome (or error) is what counts
                pass
        for worker in workers:
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()


def main(argv: list[str]) -> int:
    run = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    output = Path(run["output"])
    os.chdir(run["cwd"])
    try:
        data = run_load(run)
        status = 0
    except RunError as exc:
        data, status = {"error": exc.kind, "message": exc.message}, 2
    except Exception as exc:
        data, status = {"error": "crash", "message": "".join(traceback.format_exception(exc))}, 2
    temporary = output.with_suffix(".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    temporary.replace(output)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
