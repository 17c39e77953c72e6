"""Throughput of the in-process contract gate vs. schemathesis' CLI against a live server.

Copies the example app's ``shop`` package (examples/shop/shop) into a throwaway
directory with its own pyproject.toml (so the shop's own tests are not collected)::

    [tool.pytest.ini_options]
    pythonpath = ["."]

    [tool.backend-gates]
    report = "gates.json"
    [tool.backend-gates.contract]
    app = "shop.main:app"
    max_examples = 30
    stateful = false

and, in that directory, times whole subprocesses (wall clock, start-up included):

  A  in-process gate: ``python -m pytest --backend-gates=contract --backend-gates-seed=1
     -p no:cacheprovider -q``; cases = gates.json -> gate "contract" -> measured.cases.
     The report's ``duration_s`` for the gate is its engine time (schemathesis
     running the phases), the counterpart of the phase times the CLI prints.
  S  start-up baseline: the same command with ``--collect-only`` (imports the app and
     loads its schema, runs no case).  A - S is the gate's fuzzing time alone.
  B  CLI: ``st run http://127.0.0.1:P/openapi.json --max-examples 30 --seed 1
     --phases examples,coverage,fuzzing --generation-database none`` against
     ``python -m uvicorn shop.main:app --host 127.0.0.1 --port P`` (a fresh server per
     run, so every run starts from an empty in-memory database like the in-process app;
     server start-up is not timed).  Checks: the defaults of both (all).  Stateful
     testing is off in both (the CLI simply leaves "stateful" out of --phases).  As the
     gate does, schemathesis' persistent cache is disabled (a schemathesis.toml with
     ``[cache] enabled = false`` passed by --config-file) and so is the example database.
     Cases = the "Test cases: N generated" line of the CLI's summary.

One untimed warm-up run of A and B each (bytecode, hypothesis' unicode cache), then
3 timed rounds of S, A, B (interleaved); medians are reported.  Two ratios of
(in-process cases/s) / (CLI cases/s), target at least as fast (ratio >= 1.0):
  - fuzzing: the gate's engine time vs the CLI's printed phase times (same work:
    phases examples, coverage, fuzzing over the same operations and seed);
  - whole command: wall clock of `pytest --backend-gates=contract` vs `st run`, which
    adds pytest's start-up (plugins, the app import) to one and the CLI's to the other.

Exit status: 0 whatever the verdict (a measurement, not a test); 1 if a run failed to
run at all (timeout, crash, missing/unparsable report or CLI summary, server that did
not come up).  Contract FAILURES found in the app (pytest / st exit code 1) are fine.
Only 127.0.0.1 traffic; every subprocess has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "examples" / "shop" / "shop"
BIN = Path(sys.executable).parent
ST = BIN / "st"
TIMEOUT = 600.0  # seconds, per subprocess
SERVER_WAIT = 30.0  # seconds for uvicorn to answer /health
SEED = 1
MAX_EXAMPLES = 30
TARGET = 1.0
PYPROJECT = f"""[tool.pytest.ini_options]
pythonpath = ["."]

[tool.backend-gates]
report = "gates.json"
[tool.backend-gates.contract]
app = "shop.main:app"
max_examples = {MAX_EXAMPLES}
stateful = false
"""
ST_CONFIG = "[cache]\nenabled = false\n"
PYTEST_CMD = [sys.executable, "-m", "pytest", "--backend-gates=contract", f"--backend-gates-seed={SEED}",
              "-p", "no:cacheprovider", "-q"]
# PYTHONDONTWRITEBYTECODE (set on some CI images) makes pytest re-run its assertion
# rewriting of every pytest11 plugin package (schemathesis, hypothesis) at each start:
# seconds that are the environment's, not the gate's. Both variants run without it.
_DROP = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "SCHEMATHESIS_CONFIG",
         "PYTHONDONTWRITEBYTECODE")
ENV = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("SCHEMATHESIS_")}
ENV.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")


class RunFailed(Exception):
    pass


def _tail(proc: subprocess.CompletedProcess[str], n: int = 2500) -> str:
    return f"--- stdout (tail) ---\n{proc.stdout[-n:]}\n--- stderr (tail) ---\n{proc.stderr[-n:]}"


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"timed out after {TIMEOUT:g}s: {' '.join(cmd)}") from None
    return time.perf_counter() - start, proc


# -- A and S: the pytest plugin -----------------------------------------------
def run_gate(root: Path) -> tuple[int, float, float]:
    report = root / "gates.json"
    report.unlink(missing_ok=True)
    wall, proc = timed(PYTEST_CMD, root)
    if proc.returncode not in (0, 1):  # 1 = contract failures found: fine here
        raise RunFailed(f"gate run exited {proc.returncode}\n{_tail(proc)}")
    try:
        data = json.loads(report.read_text())
        gate = next(g for g in data["gates"] if g["gate"] == "contract")
        cases = int(gate["measured"]["cases"])
        engine = float(gate["duration_s"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise RunFailed(f"gate run: missing/unparsable gates.json ({type(exc).__name__}: {exc})\n{_tail(proc)}") from None
    if gate.get("status") == "error" or cases <= 0:
        raise RunFailed(f"gate could not test (status {gate.get('status')}, {cases} cases): {gate.get('summary')}")
    return cases, wall, engine


def run_startup(root: Path) -> float:
    wall, proc = timed([*PYTEST_CMD, "--collect-only"], root)
    if proc.returncode != 0 or "contract[" not in proc.stdout:
        raise RunFailed(f"--collect-only run exited {proc.returncode} or collected no contract item\n{_tail(proc)}")
    return wall


# -- B: the CLI against uvicorn -----------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving shop.main:app on 127.0.0.1; always terminated on exit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / f"uvicorn-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        cmd = [sys.executable, "-m", "uvicorn", "shop.main:app", "--host", "127.0.0.1", "--port", str(self.port),
               "--log-level", "warning"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + SERVER_WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RunFailed(f"uvicorn exited {self.proc.returncode}:\n{self.log.read_text(errors='replace')[-2000:]}")
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RunFailed(f"uvicorn did not answer /health within {SERVER_WAIT:g}s:\n"
                        f"{self.log.read_text(errors='replace')[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


CASES_RE = re.compile(r"Test cases:\s*\n\s*(\d+)\s+generated")


def run_cli(root: Path, config: Path) -> tuple[int, float, float]:
    """(cases, wall s, seconds the CLI reports for its phases) for one fresh server."""
    with Server(root) as server:
        cmd = [str(ST), "--config-file", str(config), "run", f"http://127.0.0.1:{server.port}/openapi.json",
               "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--phases", "examples,coverage,fuzzing",
               "--generation-database", "none", "--no-color"]
        wall, proc = timed(cmd, root)
    if proc.returncode not in (0, 1):  # 1 = failures found: fine here
        raise RunFailed(f"st run exited {proc.returncode}\n{_tail(proc)}")
    match = CASES_RE.search(proc.stdout)
    if match is None:
        raise RunFailed(f"st run: no 'Test cases: N generated' line in its output\n{_tail(proc)}")
    phases = sum(float(s) for s in re.findall(r"^\s*\S+\s+(?:Examples|Coverage|Fuzzing) \(in ([\d.]+)s\)",
                                                proc.stdout, re.M))
    return int(match.group(1)), wall, phases


# -- main ----------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    args = parser.parse_args()
    if not ST.exists():
        print(f"FAILED: no schemathesis CLI at {ST}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    gate: list[tuple[int, float, float]] = []
    cli: list[tuple[int, float, float]] = []
    startup: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bg-contract-") as tmp:
        root = Path(tmp)
        shutil.copytree(SHOP, root / "shop", ignore=shutil.ignore_patterns("__pycache__"))
        (root / "pyproject.toml").write_text(PYPROJECT)
        config = root / "schemathesis.toml"
        config.write_text(ST_CONFIG)
        try:
            run_gate(root)  # warm-ups, not timed
            run_cli(root, config)
            for _ in range(args.repeats):
                startup.append(run_startup(root))
                gate.append(run_gate(root))
                cli.append(run_cli(root, config))
        except RunFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    total = time.perf_counter() - t0

    a_cases = statistics.median(c for c, _, _ in gate)
    a_wall = statistics.median(w for _, w, _ in gate)
    a_engine = statistics.median(e for _, _, e in gate)
    b_cases = statistics.median(c for c, _, _ in cli)
    b_wall = statistics.median(w for _, w, _ in cli)
    b_phases = statistics.median(p for _, _, p in cli)
    s_wall = statistics.median(startup)
    a_rate, b_rate = a_cases / a_wall, b_cases / b_wall
    ratio = a_rate / b_rate

    print(f"contract throughput: examples/shop (shop.main:app), max_examples {MAX_EXAMPLES}, seed {SEED}, "
          f"phases examples,coverage,fuzzing, no stateful; python {sys.version.split()[0]}")
    print(f"{args.repeats} timed rounds after 1 warm-up each; medians; wall = whole subprocess, start-up included")
    print()
    rows = [
        ("A in-process gate (pytest)", a_cases, a_wall, a_rate),
        ("B st run -> uvicorn", b_cases, b_wall, b_rate),
    ]
    print(f"  {'variant':<30} {'cases':>7} {'wall s':>8} {'cases/s':>9}")
    for name, cases, wall, rate in rows:
        print(f"  {name:<30} {cases:>7g} {wall:>8.2f} {rate:>9.1f}")
    print()
    print(f"  start-up baseline (same pytest command, --collect-only): {s_wall:.2f} s")
    net = a_wall - s_wall
    if net > 0:
        print(f"  A minus start-up: {net:.2f} s -> {a_cases / net:.1f} cases/s (fuzzing only)")
    print(f"  B phase times printed by st (examples+coverage+fuzzing): {b_phases:.2f} s -> "
          f"{b_cases / b_phases:.1f} cases/s" if b_phases > 0 else "  B phase times: not found in st output")
    print(f"  A engine time (gates.json duration_s): {a_engine:.2f} s -> {a_cases / a_engine:.1f} cases/s")
    print()
    print("  raw runs:")
    print("    A  (cases, wall s, engine s): " + ", ".join(f"({c}, {w:.2f}, {e:.2f})" for c, w, e in gate))
    print("    B  (cases, wall s): " + ", ".join(f"({c}, {w:.2f})" for c, w, _ in cli))
    print("    S  (wall s):        " + ", ".join(f"{w:.2f}" for w in startup))
    print()
    fuzz_ratio = (a_cases / a_engine) / (b_cases / b_phases) if b_phases > 0 and a_engine > 0 else float("nan")
    for name, value in (("fuzzing (engine vs CLI phases)", fuzz_ratio), ("whole command (wall clock)", ratio)):
        verdict = "MET" if value >= TARGET else "NOT MET"
        print(f"ratio {name}: (in-process cases/s) / (CLI cases/s) = {value:.2f}   "
              f"target >= {TARGET:.1f} -> {verdict}")
    print(f"total benchmark time: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
