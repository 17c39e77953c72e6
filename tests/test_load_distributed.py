"""The load gate's distributed mode: the gate runs the locust master, and workers started apart
connect to it with the command docs/load.md documents (`locust -f locustfile.py --worker
--master-host=... --master-port=...`, the venv's locust), as on other machines.

The project is the recipe of examples/load/distributed as it is, with a shorter run and
thresholds that do not depend on this machine's speed: what is checked is that the master
judges the workers' combined statistics, says how many took part, and never passes when they
do not come or one is lost. The service is examples/load's fixed catalog under uvicorn on
127.0.0.1; where network namespaces can be made, on an address of its own in one (netns.py).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import netns
import pytest
from conftest import EXAMPLES, served_by_uvicorn

RECIPE = EXAMPLES / "load" / "distributed"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "load.md"
LOCUST = Path(sys.executable).with_name("locust")
# docs/load.md's worker command, as a worker on another machine runs it.
WORKER_COMMAND = "locust -f locustfile.py --worker --master-host={host} --master-port={port}"
RUN = ("--backend-gates=load", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:cacheprovider")
# Generous bounds: every wait below ends as soon as what it waits for happens.
MASTER_LIMIT_S = 150.0
WORKER_EXIT_S = 20.0

# The recipe's users, which also say which worker process runs them, so that the test knows
# when both workers have users running before it kills one. Every threshold holds without the
# lost worker: the gate would pass on what the other one measured.
MARKING_LOCUSTFILE = '''
import os
from pathlib import Path

from locust import FastHttpUser, constant, task


class Shopper(FastHttpUser):
    wait_time = constant(0.05)

    def on_start(self):
        Path(os.environ["BGT_MARKS"], str(os.getpid())).touch()

    @task
    def product(self):
        self.client.get("/products/1", name="/products/{product_id}")

    @task
    def search(self):
        self.client.get("/search?q=e", name="/search")
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recipe_project(pytester: pytest.Pytester, duration: str = "3s", **replace: str) -> None:
    """examples/load/distributed in the test's folder: its pyproject.toml as it is but for the
    duration, thresholds that hold on any machine, and the lines `replace` names (key -> line)."""
    for name in ("locustfile.py", "test_catalog.py"):
        shutil.copy(RECIPE / name, pytester.path / name)
    text = (RECIPE / "pyproject.toml").read_text(encoding="utf-8")
    lines = {"duration": f'duration = "{duration}"', "thresholds": 'thresholds = ["failures < 1%", "p95 < 10s"]',
             "thresholds_per_endpoint": 'thresholds_per_endpoint = { "GET /search" = "p95 < 10s" }', **replace}
    for key, line in lines.items():
        text, count = re.subn(rf"^{key} = .*$", line.replace("\\", "\\\\"), text, count=1, flags=re.MULTILINE)
        assert count == 1, f"no `{key} = ...` line in the recipe's pyproject.toml"
    (pytester.path / "pyproject.toml").write_text(text, encoding="utf-8")


class Lines:
    """A process's output, line by line as it comes, so that a test can wait for one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        self._reader = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, limit: float = MASTER_LIMIT_S) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        pytest.fail(f"no line matching {pattern!r} in the output:\n" + "\n".join(self.lines))

    def finish(self, limit: float = MASTER_LIMIT_S) -> int:
        """The exit status, the output read to its end."""
        try:
            status = self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail("the process did not finish:\n" + "\n".join(self.lines))
        self._reader.join(timeout=10)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return status

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def processes() -> Iterator[list[subprocess.Popen[Any]]]:
    """Every process a test starts goes in this list: whatever happens, each is stopped after."""
    started: list[subprocess.Popen[Any]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def worker_argv(host: str, port: int) -> list[str]:
    argv = shlex.split(WORKER_COMMAND.format(host=host, port=port))
    return [str(LOCUST), *argv[1:]]


def start_worker(started: list[subprocess.Popen[Any]], cwd: Path, argv: list[str], log: Path,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as stream:  # the child keeps its own descriptor
        worker = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stream, stderr=stream, env=env)
    started.append(worker)
    return worker


def start_master(started: list[subprocess.Popen[Any]], cwd: Path, env: dict[str, str],
                 prefix: tuple[str, ...] = ()) -> Lines:
    master = subprocess.Popen([*prefix, sys.executable, "-m", "pytest", *RUN], cwd=cwd, env=env, text=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started.append(master)
    return Lines(master)


def exits_by_itself(worker: subprocess.Popen[Any]) -> bool:
    """A worker the master told to quit (at the end of the run, or when it gave up waiting) exits."""
    try:
        worker.wait(timeout=WORKER_EXIT_S)
    except subprocess.TimeoutExpired:
        return False
    return True


def load_result(pytester: pytest.Pytester) -> dict[str, Any]:
    report = json.loads((pytester.path / "backend-gates.json").read_text(encoding="utf-8"))
    return next(g for g in report["gates"] if g["gate"] == "load")


def test_the_recipe_documents_the_command_and_the_configuration_tested_here() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert WORKER_COMMAND.format(host="127.0.0.1", port=5557) in docs
    for name in ("pyproject.toml", "locustfile.py", "docker-compose.yml"):
        assert f"examples/load/distributed/{name}" in docs
    # The page shows the configuration tested here by including the file (mkdocs' snippets), not a copy.
    assert '--8<-- "examples/load/distributed/pyproject.toml:gates"' in docs


@pytest.fixture(scope="module")
def catalog() -> Iterator[str]:
    with served_by_uvicorn(EXAMPLES / "load", "catalog_fixed:app") as base_url:
        yield base_url


def test_the_gate_as_master_judges_the_combined_stats_of_workers_started_apart(
        pytester: pytest.Pytester, catalog: str) -> None:
    recipe_project(pytester)
    port = free_port()
    env = {**os.environ, "SERVICE_URL": catalog, "MASTER_BIND": f"127.0.0.1:{port}"}
    with processes() as started:
        master = start_master(started, pytester.path, env)
        # The master waits for its workers before any user starts.
        master.wait_for(rf"waiting for 2 locust workers \(master at 127\.0\.0\.1:{port}, workers_timeout 60s\)")
        workers = [start_worker(started, pytester.path, worker_argv("127.0.0.1", port), pytester.path / f"w{n}.log")
                   for n in (1, 2)]
        status = master.finish()
        assert all(exits_by_itself(w) for w in workers), "a worker was not told to quit at the end of the run"
    load = load_result(pytester)
    assert status == 0, master.text
    assert load["status"] == "passed", load
    measured = load["measured"]
    assert measured["workers"] == 2
    # The master's figures are the two workers' requests added up, each worker having sent some.
    assert len(measured["per_worker"]) == 2 and all(n > 0 for n in measured["per_worker"].values())
    assert sum(measured["per_worker"].values()) == measured["requests"]
    assert measured["lost_workers"] == []
    assert load["summary"].endswith(", 2 workers)")
    assert set(measured["endpoints"]) == {"GET /products/{product_id}", "GET /search"}
    assert any("is a loopback address and remote_workers = 2" in w for w in load["warnings"])
    assert "1 passed" in master.text  # the project's own test ran after the load


def test_workers_that_do_not_come_make_the_gate_an_error_after_workers_timeout(
        pytester: pytest.Pytester, catalog: str) -> None:
    recipe_project(pytester, workers_timeout='workers_timeout = "4s"')
    port = free_port()
    env = {**os.environ, "SERVICE_URL": catalog, "MASTER_BIND": f"127.0.0.1:{port}"}
    with processes() as started:
        # One worker of the two: started first, it waits for the master to come.
        worker = start_worker(started, pytester.path, worker_argv("127.0.0.1", port), pytester.path / "w1.log")
        master = start_master(started, pytester.path, env)
        status = master.finish()
        assert exits_by_itself(worker), "the worker that came was left waiting"
    load = load_result(pytester)
    assert status == 1, master.text
    assert load["status"] == "error", load
    assert load["summary"] == (
        f"1 of 2 locust workers connected to the master at 127.0.0.1:{port} (none more within workers_timeout = "
        f"4s); each worker on another machine runs `locust -f <the locustfile> --worker --master-host <this "
        f"machine> --master-port {port}`; no load was sent, so there is no verdict on the load")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_a_worker_lost_during_the_run_is_an_error_not_a_pass_on_part_of_the_load(
        pytester: pytest.Pytester, catalog: str, how: signal.Signals) -> None:
    recipe_project(pytester, duration="6s", users="users = 4", spawn_rate="spawn_rate = 50")
    (pytester.path / "locustfile.py").write_text(MARKING_LOCUSTFILE, encoding="utf-8")
    marks = pytester.path / "marks"
    marks.mkdir()
    port = free_port()
    env = {**os.environ, "SERVICE_URL": catalog, "MASTER_BIND": f"127.0.0.1:{port}", "BGT_MARKS": str(marks)}
    with processes() as started:
        workers = [start_worker(started, pytester.path, worker_argv("127.0.0.1", port), pytester.path / f"w{n}.log",
                                env=env) for n in (1, 2)]
        master = start_master(started, pytester.path, env)
        master.wait_for(r"waiting for 2 locust workers")
        deadline = time.monotonic() + MASTER_LIMIT_S
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline and master.process.poll() is None:
            time.sleep(0.05)
        running = {int(p.name) for p in marks.iterdir()}
        assert running == {w.pid for w in workers}, f"users run on {running}, workers are {[w.pid for w in workers]}"
        workers[0].send_signal(how)  # early in the run: a worker killed by the OOM killer, a container stopped
        status = master.finish()
    load = load_result(pytester)
    assert status == 1, master.text
    assert load["status"] == "error", load
    why = "it stopped (sending heartbeats|answering)" if how == signal.SIGKILL else "it quit or disconnected"
    assert re.fullmatch(
        rf"1 of 2 locust workers were lost during the run \(\S+: {why}.*, [\d.]+s into the run\): their users "
        r"stopped and their last requests are missing, so the figures are not the configured load and the "
        r"thresholds are not judged \(\d+ requests counted\)", load["summary"]), load["summary"]
    assert load["measured"]["workers"] == 2
    assert len(load["measured"]["lost_workers"]) == 1
    assert load["violations"] == []


def test_a_master_that_cannot_listen_where_it_is_told_is_an_error(pytester: pytest.Pytester, catalog: str) -> None:
    recipe_project(pytester, workers_timeout='workers_timeout = "4s"')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {**os.environ, "SERVICE_URL": catalog, "MASTER_BIND": f"127.0.0.1:{port}"}
        result = subprocess.run([sys.executable, "-m", "pytest", *RUN], cwd=pytester.path, env=env, text=True,
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=MASTER_LIMIT_S)
    load = load_result(pytester)
    assert result.returncode == 1, result.stdout + result.stderr
    assert load["status"] == "error", load
    assert load["summary"].startswith(f"the locust master cannot listen on 127.0.0.1:{port} (master_bind): "), load


def test_an_in_process_app_with_remote_workers_is_a_usage_error(pytester: pytest.Pytester) -> None:
    recipe_project(pytester)
    text = (pytester.path / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r'^base_url = .*$', 'app = "catalog_fixed:app"', text, count=1, flags=re.MULTILINE)
    (pytester.path / "pyproject.toml").write_text(text, encoding="utf-8")
    result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: [[]tool.backend-gates.load[]] remote_workers: 2 needs a target that workers on other machines can "
        "reach, but [[]tool.backend-gates.contract[]] app = 'catalog_fixed:app' is served on 127.0.0.1 of this "
        "machine for the run, which only this machine reaches: start the service and set base_url *, or use "
        "workers = N for worker processes on this machine"])


# --------------------------------------------------------------------------
# Workers on hosts of their own: network namespaces
# --------------------------------------------------------------------------


def test_workers_in_network_namespaces_of_their_own_reach_the_master_over_their_addresses(
        pytester: pytest.Pytester) -> None:
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(reason)
    recipe_project(pytester)
    with netns.hosts(2) as hosts, processes() as started:
        service = f"http://{hosts.master_address}:8000"
        # As on other machines: the service and the master listen on the master host's own address,
        # on the recipe's ports (each namespace has ports of its own).
        env = {**os.environ, "SERVICE_URL": service, "MASTER_BIND": f"{hosts.master_address}:5557"}
        access_log = pytester.path / "service.log"
        with access_log.open("ab") as stream:
            started.append(subprocess.Popen(
                hosts.command(hosts.master, [sys.executable, "-m", "uvicorn", "catalog_fixed:app", "--app-dir",
                                             str(EXAMPLES / "load"), "--host", hosts.master_address, "--port", "8000",
                                             "--log-level", "info"]),
                stdin=subprocess.DEVNULL, stdout=stream, stderr=stream))
        ready = subprocess.run(hosts.command(hosts.master, [sys.executable, "-c", READY, hosts.master_address, "8000"]),
                               capture_output=True, text=True, timeout=60)
        assert ready.returncode == 0, ready.stderr + access_log.read_text()
        # The workers first, each in its own namespace: they wait for the master to come.
        workers = [start_worker(started, pytester.path, hosts.command(namespace, worker_argv(hosts.master_address, 5557)),
                                pytester.path / f"{namespace}.log")
                   for namespace, _ in hosts.workers]
        master = start_master(started, pytester.path, env, prefix=tuple(hosts.command(hosts.master, [])))
        status = master.finish()
        assert all(exits_by_itself(w) for w in workers), "a worker was not told to quit at the end of the run"
    assert not any(netns.exists(name) for name in (hosts.master, *(n for n, _ in hosts.workers)))
    load = load_result(pytester)
    assert status == 0, master.text
    assert load["status"] == "passed", load
    measured = load["measured"]
    assert measured["workers"] == 2
    assert len(measured["per_worker"]) == 2 and all(n > 0 for n in measured["per_worker"].values())
    assert sum(measured["per_worker"].values()) == measured["requests"]
    # The service saw the load come from each worker's own address.
    peers = set(re.findall(r"(\d+\.\d+\.\d+\.\d+):\d+ - \"GET /(?:products|search)", access_log.read_text()))
    assert {address for _, address in hosts.workers} <= peers, peers
    assert not any("loopback" in w for w in load["warnings"])


READY = """
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the service did not start within 30 s")
        time.sleep(0.1)
"""
