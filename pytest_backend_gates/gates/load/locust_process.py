"""The load gate's locust process: runner.py started in a new process group (gevent never
patches the pytest process), its progress lines shown as they come, the whole group killed
when the run overruns `duration + margin`, and what it left read back as a `RunOutcome`.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pytest_backend_gates.budget import format_duration
from pytest_backend_gates.gates.load.history import history_step
from pytest_backend_gates.settings import LoadSettings

INSTALL_HINT = "pip install pytest-backend-gates[load]"
STARTUP_TIMEOUT_S = 45.0  # locust imported, locustfile loaded (the workers then get workers_timeout)
WORKERS_GRACE_S = 15.0  # past workers_timeout: the runner says which workers are missing, else it is killed
PROGRESS_EVERY_S = 3.0
EVENT_PREFIX = "@@backend-gates-load "  # as in runner.py
RUNNER = Path(__file__).with_name("runner.py")


@dataclass
class RunOutcome:
    data: dict[str, Any] | None = None
    error: str | None = None
    log_tail: str = ""


def run_locust(settings: LoadSettings, base_url: str, locustfile: str, folder: Path, environment: dict[str, str], *,
               rootpath: Path, target_text: str, progress: Callable[[str], None]) -> RunOutcome:
    """Run locust in runner.py (a new process group), follow it, and read what it left."""
    output = folder / "result.json"
    bind_host, _, bind_port = (settings.master_bind or "").partition(":")
    run = {
        "locustfile": locustfile, "host": base_url, "users": settings.users, "spawn_rate": settings.spawn_rate,
        "duration": settings.duration, "workers": settings.workers, "remote_workers": settings.remote_workers,
        "master_bind_host": bind_host or None, "master_port": int(bind_port) if bind_port else None,
        "progress_every": PROGRESS_EVERY_S, "drain": drain_seconds(settings.margin), "output": str(output),
        "cwd": str(rootpath), "history_step": history_step(settings.duration),
        "worker_timeout": settings.workers_timeout,
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    workers = settings.workers + settings.remote_workers
    progress(f"locust: {settings.users} users (spawn rate {settings.spawn_rate:g}/s) for "
             f"{format_duration(settings.duration)} against {target_text}"
             + (f", {workers} workers" if workers else "")
             + (f", {Path(locustfile).name}" if settings.locustfile else ", default user"))
    stderr_path = folder / "runner.log"
    environment["PYTHONUNBUFFERED"] = "1"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(RUNNER), str(folder / "run.json")], stdout=subprocess.PIPE, stderr=stderr,
            stdin=subprocess.DEVNULL, cwd=rootpath, env=environment, start_new_session=True)
    try:
        timed_out = follow(process, settings, progress)
    finally:
        if process.poll() is None:
            _kill_group(process)
    log_tail = _tail(stderr_path) + _tail(output.with_suffix(".workers.log"))
    if timed_out is not None:
        return RunOutcome(error=timed_out, log_tail=log_tail)
    if not output.is_file():
        return RunOutcome(error=f"the locust process exited with status {process.returncode} without a result",
                          log_tail=log_tail)
    data = json.loads(output.read_text(encoding="utf-8"))
    if "error" in data:
        message = data["message"]
        if data["error"] == "locust-missing":
            message = f"locust cannot be imported ({message}): {INSTALL_HINT}"
        elif data["error"] == "crash":
            log_tail, message = message, "the locust process crashed"
        return RunOutcome(error=message, log_tail=log_tail)
    return RunOutcome(data=data, log_tail=log_tail)


def follow(process: subprocess.Popen[bytes], settings: LoadSettings, progress: Callable[[str], None]) -> str | None:
    """Show the runner's progress until it exits; the reason when it overran and was killed."""
    lines: queue.Queue[bytes | None] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    phase = f"did not start within {STARTUP_TIMEOUT_S:g}s"
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if time.monotonic() > deadline:
                _kill_group(process)
                return f"the load run {phase}: locust was stopped (process group killed)"
            continue
        if line is None:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(process)
                return f"the load run {phase}: locust was stopped (process group killed)"
            return None
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith(EVENT_PREFIX):
            continue
        event = json.loads(text[len(EVENT_PREFIX):])
        if event["event"] == "waiting":
            # The runner gives up on its workers after workers_timeout and says which are missing;
            # this deadline only catches a runner that hangs meanwhile.
            deadline = time.monotonic() + settings.workers_timeout + WORKERS_GRACE_S
            phase = (f"did not start: its master still waited for workers after workers_timeout + "
                     f"{WORKERS_GRACE_S:g}s ({format_duration(settings.workers_timeout)} + {WORKERS_GRACE_S:g}s)")
            progress(f"waiting for {event['workers']} locust workers (master at {event['master']}, "
                     f"workers_timeout {format_duration(settings.workers_timeout)})")
        elif event["event"] == "started":
            deadline = time.monotonic() + settings.duration + settings.margin
            phase = (f"did not finish within duration + margin ({format_duration(settings.duration)} + "
                     f"{format_duration(settings.margin)}): a hung target or locustfile?")
        elif event["event"] == "progress":
            p95 = "-" if event["p95_ms"] is None else format_duration(event["p95_ms"] / 1000)
            progress(f"{event['elapsed']:.0f}s/{settings.duration:g}s  {event['users']} users  "
                     f"{event['requests']} requests  {event['failures']} failures  "
                     f"{event['rps']:g} req/s  p95 {p95}")


def drain_seconds(margin: float) -> float:
    """How long users may finish the request they are in after `duration`: half the margin, at most 5 s."""
    return round(min(5.0, margin / 2), 3)


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The runner and every locust worker it started (they share its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    return "\n".join(text.splitlines()[-lines:])

