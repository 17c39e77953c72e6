"""The load gate's locust process: `python -m pytest_backend_gates.gates.load.runner RUN.json`.

Runs in its own process (and process group) so that gevent's monkey-patching,
which `import locust` performs, never touches the pytest process. It uses
locust's library API (docs.locust.io, "Using Locust as a library"):
`locust.env.Environment`, a local runner, or a master runner with N workers
started as ordinary `locust --worker` processes, as locust's docs recommend.

Protocol with the gate (load.py):
- stdout: one line per event, `@@backend-gates-load {json}`: `started` when
  the users start spawning, `progress` every few seconds; any other output
  (a locustfile's prints) is ignored by the gate.
- the file named by `output` in RUN.json: on success the serialised stats
  (locust's own `StatsEntry.serialize()`: counts, response-time histogram,
  min/max/total times) of every endpoint and of the total, the error table,
  user exceptions and the measured run time; on failure `{"error": kind,
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


def _start_workers(run: dict[str, Any], port: int) -> list[subprocess.Popen[bytes]]:
    log = open(Path(run["output"]).with_suffix(".workers.log"), "ab")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "locust", "-f", run["locustfile"], "--worker",
               "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING",
               "--stop-timeout", f"{math.ceil(run['drain'])}s"]  # whole seconds only
    return [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=run["cwd"])
            for _ in range(run["workers"])]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    try:
        if expected:
            bind_host, port = run.get("master_bind_host") or "127.0.0.1", run.get("master_port") or _free_port()
            runner: Any = env.create_master_runner(master_bind_host=bind_host, master_bind_port=port)
            reported: dict[str, float] = {}
            def on_report(client_id: str, data: Any, **kwargs: Any) -> None:
                reported[client_id] = time.monotonic()

            env.events.worker_report.add_listener(on_report)  # type: ignore[no-untyped-call]
            workers = _start_workers(run, port)
            emit("waiting", workers=expected, master=f"{bind_host}:{port}")
            deadline = time.monotonic() + run.get("worker_timeout", WORKER_CONNECT_TIMEOUT_S)
            while runner.worker_count < expected:
                dead = [w for w in workers if w.poll() is not None]
                if dead or time.monotonic() > deadline:
                    why = f"a worker exited with status {dead[0].returncode}" if dead else "timed out"
                    raise RunError("workers", f"{runner.worker_count} of {expected} locust workers connected "
                                   f"to the master at {bind_host}:{port} ({why})")
                gevent.sleep(0.1)
        else:
            runner = env.create_local_runner()
        runner.start(run["users"], spawn_rate=run["spawn_rate"])
        started, started_at = time.monotonic(), time.time()
        emit("started", workers=runner.worker_count if expected else 0)
        duration, every = run["duration"], run["progress_every"]
        timeline = Timeline(float(run.get("history_step") or every))
        next_progress = every
        while (elapsed := time.monotonic() - started) < duration:
            gevent.sleep(max(0.0, min(next_progress, timeline.next_at, duration) - elapsed))
            elapsed = time.monotonic() - started
            total = runner.stats.total
            if elapsed >= timeline.next_at or elapsed >= duration:  # the last, partial step too
                timeline.sample(elapsed, total, runner.user_count)
            if elapsed >= next_progress or elapsed >= duration:
                next_progress += every
                emit("progress", elapsed=round(elapsed, 1), users=runner.user_count,
                     requests=total.num_requests, failures=total.num_failures, rps=round(total.current_rps, 1),
                     p95_ms=total.get_response_time_percentile(0.95) if total.num_requests else None)
        stopped = time.monotonic()
        connected = runner.worker_count if expected else 0
        late = 0
        if expected:
            # Each worker lets its users finish the request they are in (--stop-timeout), sends a
            # final report and exits; a report later than drain + 3 s is missing from the stats.
            runner.send_message("quit")
            limit = time.monotonic() + run["drain"] + 3.0
            while time.monotonic() < limit and sum(1 for t in reported.values() if t > stopped) < connected:
                gevent.sleep(0.05)
            late = connected - sum(1 for t in reported.values() if t > stopped)
        else:
            runner.stop()  # users finish the request they are in, up to `drain` seconds
        elapsed = time.monotonic() - started
        stats = runner.stats
        result = {
            "entries": [entry.serialize() for entry in stats.entries.values()],
            "total": stats.total.serialize(),
            "errors": list(stats.serialize_errors().values()),
            "exceptions": [{"count": e["count"], "msg": e["msg"], "nodes": sorted(e.get("nodes") or [])}
                           for e in runner.exceptions.values()],
            "elapsed": elapsed,
            "started_at": started_at,  # epoch seconds: the per-second counts of the entries are keyed by epoch second
            "timeline": timeline.points,
            "workers": connected,
            "late_workers": late,
            "user_classes": [cls.__name__ for cls in user_classes],
        }
        runner.quit()
        return result
    finally:
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
