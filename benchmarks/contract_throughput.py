"""Throughput of the in-process contract gate vs. schemathesis' CLI against a live server.

Two subjects:

- default: the example app ``examples/shop`` (``shop.main:app``; its catalog writes need the
  ``X-API-Key`` staff key, sent by both sides: the shop's development default), max_examples 30,
  stateful off;
- ``--stack DIR``: a service folder such as ``examples/stacks/fastapi_sqlmodel``, with auth.
  Its ``[tool.backend-gates.contract]`` table gives the app, the schema path, the headers and
  ``exclude_operations``; ``${VAR}`` (``${VAR:-default}``) is taken from the environment. The
  gate logs in as the folder's default identity itself; for the CLI the same identity logs in
  to each fresh server before the timed run (its ``login`` request, or its ``provider`` called
  with an httpx client of the server), and the token is passed with ``-H``. Where the stack
  leaves its logout to the fuzzing (flask_smorest, connexion_api), the gate logs in again after
  it and the CLI goes on with the revoked token (401s, cheaper answers): not the same work.
  ``--env NAME=VALUE`` is set for every subprocess of both sides (the gate, the server, the
  CLI): e.g. ``--env STACK_BCRYPT_ROUNDS=4``, which the stack's conftest.py sets for pytest runs
  and the server must get too.

The subject is copied into a throwaway directory; before every run the files a run left there
(the SQLite database, reports) are removed, so every run starts from the same state. Both sides
run the same work: the same operations, ``max_examples``, seed, phases (examples, coverage,
fuzzing, and stateful when on), all checks, ``continue-on-failure``, no example database, no
schemathesis cache, one worker (``--workers N``: N on both sides, the gate under pytest-xdist
``-n N``, the CLI with ``--workers N``). Timed (wall clock, whole subprocesses):

  A  the gate: ``python -m pytest NO_TESTS_DIR --backend-gates=contract --backend-gates-seed=S
     -p no:cacheprovider -q`` (no test module: the contract items only); cases and engine time
     from the JSON report (``measured.cases``, ``duration_s``).
  S  start-up baseline: the same command with ``--collect-only`` (pytest, the plugins, the app
     import and the schema load; no case).
  B  the CLI: ``st run URL --max-examples N --seed S --phases ... --checks all
     --continue-on-failure --generation-database none -H ... --exclude-name-regex ...``
     against a fresh server started for the run (uvicorn for an ASGI app; Werkzeug's threaded
     server, what ``flask run`` uses, for a WSGI app). Cases from its "N generated" line, engine
     time from the phase times it prints. The server's start (until the schema answers) is
     timed separately (B0) and is not part of B.

One untimed warm-up of A and B, then N rounds, each A and B in alternating order (A, B then
B, A), with S after them. Reported: medians, the ratio (A cases/s) / (B cases/s) of every
round and their median (a ratio within one round is fair on a loaded machine, absolute
figures are not), for the whole command (the goal), for the engines alone, and with the
server's start counted on B's side. The load average is printed with every run.

PYTHONDONTWRITEBYTECODE (set on some CI images) is dropped for both sides: with it, pytest
re-runs its assertion rewriting of every module of a pytest11 plugin package (schemathesis,
hypothesis) at each start, seconds that are the environment's, not the gate's.

Exit status: 0 whatever the verdict (a measurement, not a test); 1 if a run failed to run at
all (timeout, crash, missing report or CLI summary, a server that did not come up).  Contract
failures found in the app (exit status 1 of pytest or st) are fine. Only 127.0.0.1 traffic;
every subprocess has a timeout.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from _common import Run, add_options, quick_defaults

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "examples" / "shop"
BIN = Path(sys.executable).parent
ST = BIN / "st"
TIMEOUT = 900.0  # seconds, per subprocess
SERVER_WAIT = 60.0  # seconds for the server to answer the schema request
SEED = 1
TARGET = 1.5  # issue 11: in-process at least 1.5x the CLI's cases/s
NO_TESTS = "bench_no_tests"  # an empty folder given to pytest: the contract items alone
REPORT = "bench-gates.json"
ST_CONFIG = "[cache]\nenabled = false\n"
# PYTHONDONTWRITEBYTECODE: see the module docstring.
_DROP = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "SCHEMATHESIS_CONFIG",
         "PYTHONDONTWRITEBYTECODE")
ENV = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("SCHEMATHESIS_")}
ENV.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class RunFailed(Exception):
    pass


@dataclass
class Subject:
    """What both sides test: a folder, its app, and the contract settings that matter."""

    name: str
    source: Path  # copied into the throwaway directory
    app: str  # "module:attr" or "module:factory()"
    schema: str  # path on the server, e.g. "/openapi.json"
    max_examples: int
    stateful: bool
    headers: dict[str, str] = field(default_factory=dict)  # values with ${VAR}
    identity: dict[str, Any] = field(default_factory=dict)  # the default [tool.backend-gates.identities.NAME]
    identity_name: str = ""
    exclude: list[str] = field(default_factory=list)  # exclude_operations globs
    pythonpath: list[str] = field(default_factory=lambda: ["."])
    pyproject: str | None = None  # the folder's own pyproject.toml text, or None (written here)

    def phases(self) -> str:
        return "examples,coverage,fuzzing" + (",stateful" if self.stateful else "")


def shop_subject(max_examples: int | None, stateful: bool | None) -> Subject:
    return Subject(name="examples/shop (shop.main:app)", source=SHOP / "shop", app="shop.main:app",
                   schema="/openapi.json", max_examples=max_examples or 30, stateful=bool(stateful),
                   headers={"X-API-Key": "${SHOP_API_KEY:-dev-staff-key}"})


def stack_subject(folder: Path, max_examples: int | None, stateful: bool | None) -> Subject:
    text = (folder / "pyproject.toml").read_text()
    data = tomllib.loads(text)
    contract = data.get("tool", {}).get("backend-gates", {}).get("contract", {})
    if "app" not in contract:
        raise SystemExit(f"{folder}/pyproject.toml: [tool.backend-gates.contract] has no app (an in-process app "
                         f"is what this benchmark compares with the CLI)")
    ini = data.get("tool", {}).get("pytest", {}).get("ini_options", {})
    gates = data.get("tool", {}).get("backend-gates", {})
    identities = gates.get("identities", {})
    identity_name = gates.get("identity") or next(iter(identities), "")
    return Subject(
        name=f"{folder.name} ({contract['app']})", source=folder, app=contract["app"],
        schema=contract.get("schema", "/openapi.json"),
        max_examples=max_examples or int(contract.get("max_examples", 50)),
        stateful=contract.get("stateful", True) if stateful is None else stateful,
        headers={**contract.get("headers", {}), **identities.get(identity_name, {}).get("headers", {})},
        identity=identities.get(identity_name, {}), identity_name=identity_name,
        exclude=list(contract.get("exclude_operations", [])),
        pythonpath=list(ini.get("pythonpath", ["."])), pyproject=text)


def gate_pyproject(subject: Subject) -> str:
    """The subject's pyproject.toml with the contract table's run settings replaced (the same
    max_examples and stateful as the CLI gets, no max_time cut-off), everything else kept."""
    settings = [f"max_examples = {subject.max_examples}", f"stateful = {'true' if subject.stateful else 'false'}",
                f'max_time = "{int(TIMEOUT)}s"']
    if subject.pyproject is None:
        headers = ", ".join(f"{json.dumps(name)} = {json.dumps(value)}" for name, value in subject.headers.items())
        return "\n".join([
            "[tool.pytest.ini_options]", 'pythonpath = ["."]', "",
            "[tool.backend-gates.contract]", f"app = {json.dumps(subject.app)}", *settings,
            *([f"headers = {{ {headers} }}"] if headers else []), ""])
    lines = subject.pyproject.splitlines()
    out: list[str] = []
    in_contract = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            in_contract = stripped == "[tool.backend-gates.contract]"
            out.append(line)
            if in_contract:
                out.extend(settings)
            continue
        if in_contract and re.match(r"(max_examples|stateful|max_time|seed)\s*=", stripped):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _tail(proc: subprocess.CompletedProcess[str], n: int = 2500) -> str:
    return f"--- stdout (tail) ---\n{proc.stdout[-n:]}\n--- stderr (tail) ---\n{proc.stderr[-n:]}"


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"timed out after {TIMEOUT:g}s: {' '.join(cmd)}") from None
    return time.perf_counter() - start, proc


class Workdir:
    """The throwaway copy; `reset()` removes what a run left (database files, reports, caches)."""

    def __init__(self, root: Path, subject: Subject) -> None:
        self.root = root
        shutil.copytree(subject.source, root / subject.source.name if subject.pyproject is None else root,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.db", "*.db-*", "backend-gates.json", ".hypothesis",
                                                      ".pytest_cache", "*.lock"))
        (root / "pyproject.toml").write_text(gate_pyproject(subject))
        (root / NO_TESTS).mkdir()
        (root / "schemathesis.toml").write_text(ST_CONFIG)
        self.pristine = {path for path in root.rglob("*") if "__pycache__" not in path.parts}

    def reset(self) -> None:
        for path in sorted(self.root.rglob("*"), reverse=True):
            if path in self.pristine or "__pycache__" in path.parts:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far: a run's CPU is the
    difference around it (the CLI's server included, as it is waited for inside run_cli)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- A and S: the pytest plugin -----------------------------------------------
WORKERS = 1  # --workers: pytest-xdist's -n for the gate, st's --workers for the CLI


def gate_command(seed: int) -> list[str]:
    workers = ["-n", str(WORKERS)] if WORKERS > 1 else []
    return [sys.executable, "-m", "pytest", NO_TESTS, "--backend-gates=contract", f"--backend-gates-seed={seed}",
            f"--backend-gates-report={REPORT}", "-p", "no:cacheprovider", "-q", *workers]


def run_gate(work: Workdir, env: dict[str, str], seed: int) -> tuple[int, float, float]:
    work.reset()
    wall, proc = timed(gate_command(seed), work.root, env)
    if proc.returncode not in (0, 1):  # 1 = contract failures found: fine here
        raise RunFailed(f"gate run exited {proc.returncode}\n{_tail(proc)}")
    try:
        data = json.loads((work.root / REPORT).read_text())
        gate = next(g for g in data["gates"] if g["gate"] == "contract")
        cases = int(gate["measured"]["cases"])
        engine = float(gate["duration_s"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise RunFailed(f"gate run: missing/unparsable {REPORT} ({type(exc).__name__}: {exc})\n{_tail(proc)}") from None
    if gate.get("status") == "error" or cases <= 0:
        raise RunFailed(f"gate could not test (status {gate.get('status')}, {cases} cases): {gate.get('summary')}")
    return cases, wall, engine


def run_startup(work: Workdir, env: dict[str, str], seed: int) -> float:
    work.reset()
    wall, proc = timed([*gate_command(seed), "--collect-only"], work.root, env)
    if proc.returncode != 0 or "contract[" not in proc.stdout:
        raise RunFailed(f"--collect-only run exited {proc.returncode} or collected no contract item\n{_tail(proc)}")
    return wall


# -- B: the CLI against a server ----------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A WSGI app under Werkzeug's threaded server (what `flask run` starts), the app found like the gate finds it.
_WERKZEUG = """
import importlib, sys
from werkzeug.serving import run_simple
module, _, attr = sys.argv[1].partition(":")
factory = attr.endswith("()")
app = getattr(importlib.import_module(module), attr.removesuffix("()"))
run_simple("127.0.0.1", int(sys.argv[2]), app() if factory else app, threaded=True)
"""
_KIND = """
import importlib, inspect, sys
module, _, attr = sys.argv[1].partition(":")
app = getattr(importlib.import_module(module), attr.removesuffix("()"))
app = app() if attr.endswith("()") else app
asgi = inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None))
print("asgi" if asgi else "wsgi")
"""


def app_kind(work: Workdir, subject: Subject, env: dict[str, str]) -> str:
    _, proc = timed([sys.executable, "-c", _KIND, subject.app], work.root, env)
    kind = proc.stdout.strip().splitlines()[-1:] if proc.returncode == 0 else []
    if kind not in (["asgi"], ["wsgi"]):
        raise RunFailed(f"could not import {subject.app} to tell ASGI from WSGI\n{_tail(proc)}")
    return kind[0]


class Server:
    """The subject's app on 127.0.0.1 (a fresh process per run); always terminated on exit."""

    def __init__(self, work: Workdir, subject: Subject, kind: str, env: dict[str, str],
                 headers: dict[str, str]) -> None:
        self.work, self.subject, self.kind, self.env, self.headers = work, subject, kind, env, headers
        self.port = free_port()
        self.log = work.root / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0

    def __enter__(self) -> Self:
        app = self.subject.app
        if self.kind == "asgi":
            cmd = [sys.executable, "-m", "uvicorn", app.removesuffix("()"), "--host", "127.0.0.1", "--port",
                   str(self.port), "--log-level", "warning", *(["--factory"] if app.endswith("()") else [])]
        else:
            cmd = [sys.executable, "-c", _WERKZEUG, app, str(self.port)]
        env = dict(self.env, PYTHONPATH=os.pathsep.join(
            [str(self.work.root / p) for p in self.subject.pythonpath] + [self.env.get("PYTHONPATH", "")]))
        start = time.perf_counter()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.work.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.url}{self.subject.schema}", headers=self.headers)
        deadline = time.monotonic() + SERVER_WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RunFailed(f"server exited {self.proc.returncode}:\n{self.log.read_text(errors='replace')[-2000:]}")
            try:
                with opener.open(request, timeout=5) as resp:
                    if 200 <= resp.status < 300:
                        self.started_in = time.perf_counter() - start
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RunFailed(f"the server did not answer {self.subject.schema} within {SERVER_WAIT:g}s:\n"
                        f"{self.log.read_text(errors='replace')[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


CASES_RE = re.compile(r"Test cases:\s*\n\s*(\d+)\s+generated")
PHASE_RE = re.compile(r"^\s*\S+\s+(?:Examples|Coverage|Fuzzing|Stateful) \(in ([\d.]+)s\)", re.MULTILINE)


def cli_command(subject: Subject, url: str, headers: dict[str, str], seed: int, config: Path) -> list[str]:
    cmd = [str(ST), "--config-file", str(config), "run", f"{url}{subject.schema}",
           "--max-examples", str(subject.max_examples), "--seed", str(seed), "--phases", subject.phases(),
           "--checks", "all", "--continue-on-failure", "--generation-database", "none", "--no-color"]
    if WORKERS > 1:
        cmd += ["--workers", str(WORKERS)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if subject.exclude:  # the gate's globs over "METHOD /path", as one regex over st's operation names
        cmd += ["--exclude-name-regex", "|".join(f"(?:{fnmatch.translate(glob)})" for glob in subject.exclude)]
    return cmd


def run_cli(work: Workdir, subject: Subject, kind: str, env: dict[str, str], headers: dict[str, str],
            seed: int) -> tuple[int, float, float, float]:
    """(cases, wall s, seconds st reports for its phases, server start-up s), fresh server."""
    work.reset()
    with Server(work, subject, kind, env, headers) as server:
        headers = {**headers, **log_in(subject, server, env)}  # not timed: the gate logs in untimed too
        wall, proc = timed(cli_command(subject, server.url, headers, seed, work.root / "schemathesis.toml"),
                           work.root, env)
        started_in = server.started_in
    if proc.returncode not in (0, 1):  # 1 = failures found: fine here
        raise RunFailed(f"st run exited {proc.returncode}\n{_tail(proc)}")
    match = CASES_RE.search(proc.stdout)
    if match is None:
        raise RunFailed(f"st run: no 'Test cases: N generated' line in its output\n{_tail(proc)}")
    phases = sum(float(s) for s in PHASE_RE.findall(proc.stdout))
    return int(match.group(1)), wall, phases, started_in


# -- credentials ----------------------------------------------------------------
def expand(value: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) in env:
            return env[match.group(1)]
        if match.group(2) is not None:
            return match.group(2)
        raise RunFailed(f"{match.group(0)} is not set: set it (or pass --env {match.group(1)}=VALUE)")

    return _VAR.sub(one, value)


def resolve_headers(subject: Subject, env: dict[str, str]) -> dict[str, str]:
    """The static headers (the contract's and the identity's) with ${VAR} filled in."""
    return {name: expand(value, env) for name, value in subject.headers.items()}


# The identity's provider, called as the gate calls it: with its name and a client of the server.
_PROVIDER = """
import importlib, json, sys
import httpx
module, _, attr = sys.argv[1].partition(":")
function = importlib.import_module(module)
for part in attr.split("."):
    function = getattr(function, part)
with httpx.Client(base_url=sys.argv[3], timeout=30) as client:
    print(json.dumps(function(sys.argv[2], client)))
"""


def log_in(subject: Subject, server: Server, env: dict[str, str]) -> dict[str, str]:
    """The credentials the CLI sends: the default identity logged in to this server."""
    identity = subject.identity
    if "provider" in identity:
        run_env = dict(env, PYTHONPATH=os.pathsep.join(
            [str(server.work.root / p) for p in subject.pythonpath] + [env.get("PYTHONPATH", "")]))
        _, proc = timed([sys.executable, "-c", _PROVIDER, identity["provider"], subject.identity_name, server.url],
                        server.work.root, run_env)
        if proc.returncode != 0:
            raise RunFailed(f"provider {identity['provider']} failed\n{_tail(proc)}")
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    login = identity.get("login")
    if not login:
        return {}
    method, _, path = login["operation"].partition(" ")
    request = urllib.request.Request(f"{server.url}{path}", method=method)
    if "form" in login:
        request.data = urllib.parse.urlencode({k: expand(str(v), env) for k, v in login["form"].items()}).encode()
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    elif "json" in login:
        def filled(value: Any) -> Any:
            if isinstance(value, str):
                return expand(value, env)
            if isinstance(value, dict):
                return {k: filled(v) for k, v in value.items()}
            return [filled(v) for v in value] if isinstance(value, list) else value

        request.data = json.dumps(filled(login["json"])).encode()
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as answer:
            token: Any = json.loads(answer.read())
    except OSError as exc:
        raise RunFailed(f"login {login['operation']} failed: {exc}") from None
    for part in login.get("token", "access_token").split("."):
        token = token[int(part)] if isinstance(token, list) else token[part]
    return {login.get("header", "Authorization"): f"{login.get('prefix', 'Bearer ')}{token}"}


# -- main ----------------------------------------------------------------------
def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", type=Path, help="a service folder with [tool.backend-gates.contract] app = ...")
    parser.add_argument("--max-examples", type=int, help="default: the folder's max_examples (shop: 30)")
    stateful = parser.add_mutually_exclusive_group()
    stateful.add_argument("--stateful", dest="stateful", action="store_true", default=None,
                          help="stateful phase on both sides (default: the folder's setting; shop: off)")
    stateful.add_argument("--no-stateful", dest="stateful", action="store_false")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set for every subprocess of both sides (repeatable)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel workers on both sides: the gate under pytest-xdist -n N, st run --workers N "
                             "(default 1)")
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, repeats=1, max_examples=5)
    global WORKERS
    WORKERS = args.workers
    if not ST.exists():
        print(f"FAILED: no schemathesis CLI at {ST}", file=sys.stderr)
        return 1
    subject = (stack_subject(args.stack.resolve(), args.max_examples, args.stateful) if args.stack
               else shop_subject(args.max_examples, args.stateful))
    run_ = Run("contract_throughput", "Contract throughput: the in-process gate vs the schemathesis CLI on the same app",
               args, subject=subject.name, max_examples_used=subject.max_examples, phases=subject.phases(),
               checks="all", warmups=1)
    env = dict(ENV)
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env {item!r}: expected NAME=VALUE")
        env[name] = value
    t0 = time.perf_counter()
    gate: list[tuple[int, float, float]] = []
    cli: list[tuple[int, float, float, float]] = []
    startup: list[float] = []
    gate_cpu: list[float] = []
    cli_cpu: list[float] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bg-contract-") as tmp:
        work = Workdir(Path(tmp), subject)
        try:
            headers = resolve_headers(subject, env)
            kind = app_kind(work, subject, env)
            print(f"contract throughput: {subject.name}, {kind.upper()}, max_examples {subject.max_examples}, "
                  f"seed {args.seed}, phases {subject.phases()}, checks all, excluded {subject.exclude or 'none'}; "
                  f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}", flush=True)
            run_gate(work, env, args.seed)  # warm-ups, not timed
            run_cli(work, subject, kind, env, headers, args.seed)
            for round_ in range(args.repeats):
                sides = ("A", "B") if round_ % 2 == 0 else ("B", "A")
                for side in sides:
                    loads.append(os.getloadavg()[0])
                    cpu_before = children_cpu()
                    if side == "A":
                        gate.append(run_gate(work, env, args.seed))
                        c, w, e = gate[-1]
                        gate_cpu.append(children_cpu() - cpu_before)
                        print(f"  round {round_ + 1} A gate: {c} cases, {w:.2f} s (engine {e:.2f} s), "
                              f"CPU {gate_cpu[-1]:.2f} s, load {load()}", flush=True)
                    else:
                        cli.append(run_cli(work, subject, kind, env, headers, args.seed))
                        cli_cpu.append(children_cpu() - cpu_before)
                        c, w, p, s = cli[-1]
                        print(f"  round {round_ + 1} B st:   {c} cases, {w:.2f} s (phases {p:.2f} s, server start "
                              f"{s:.2f} s), CPU {cli_cpu[-1]:.2f} s (client + server), load {load()}", flush=True)
                startup.append(run_startup(work, env, args.seed))
        except RunFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    total = time.perf_counter() - t0

    def rate_ratios(a_time: list[float], b_time: list[float]) -> list[float]:
        return [(a[0] / ta) / (b[0] / tb) for a, b, ta, tb in zip(gate, cli, a_time, b_time, strict=True)]

    whole = rate_ratios([w for _, w, _ in gate], [w for _, w, _, _ in cli])
    engines = rate_ratios([e for _, _, e in gate], [p for _, _, p, _ in cli])
    with_server = rate_ratios([w for _, w, _ in gate], [w + s for _, w, _, s in cli])
    per_cpu = rate_ratios(gate_cpu, cli_cpu)
    med = statistics.median
    a_cases, a_wall, a_engine = med(c for c, _, _ in gate), med(w for _, w, _ in gate), med(e for _, _, e in gate)
    b_cases, b_wall, b_phases = med(c for c, _, _, _ in cli), med(w for _, w, _, _ in cli), med(p for _, _, p, _ in cli)
    b_server = med(s for _, _, _, s in cli)
    print()
    print(f"{args.repeats} rounds (A and B alternating) after 1 warm-up each; medians; load average "
          f"{min(loads):.1f}-{max(loads):.1f} (median {med(loads):.1f}) on {os.cpu_count()} CPUs")
    print(f"  {'variant':<34} {'cases':>7} {'wall s':>8} {'cases/s':>9} {'engine s':>9} {'cases/s':>9}")
    print(f"  {'A in-process gate (pytest)':<34} {a_cases:>7g} {a_wall:>8.2f} {a_cases / a_wall:>9.1f} "
          f"{a_engine:>9.2f} {a_cases / a_engine:>9.1f}")
    print(f"  {'B st run -> server':<34} {b_cases:>7g} {b_wall:>8.2f} {b_cases / b_wall:>9.1f} "
          f"{b_phases:>9.2f} {b_cases / b_phases if b_phases else float('nan'):>9.1f}")
    print(f"  S start-up of A (--collect-only): {med(startup):.2f} s; B0 server start-up: {b_server:.2f} s")
    print()
    for name, values in (("whole command (the goal)", whole), ("engines (gate duration_s vs st phases)", engines),
                         ("whole command, server start counted for B", with_server),
                         ("cases per CPU second (B: client + server processes)", per_cpu)):
        verdict = "MET" if med(values) >= TARGET else "NOT MET"
        print(f"ratio {name}: median {med(values):.2f} (rounds: {', '.join(f'{v:.2f}' for v in values)})   "
              f"target >= {TARGET:.1f} -> {verdict}")
    print(f"total benchmark time: {total:.1f} s")
    rows = [["A in-process gate (pytest)", a_cases, round(a_wall, 2), round(a_cases / a_wall, 1), round(a_engine, 2),
             round(a_cases / a_engine, 1)],
            ["B st run -> server", b_cases, round(b_wall, 2), round(b_cases / b_wall, 1), round(b_phases, 2),
             round(b_cases / b_phases, 1) if b_phases else None]]
    run_.table(f"{subject.name}, {args.repeats} rounds (A and B alternating) after 1 warm-up each; medians",
               ["variant", "cases", "wall s", "cases/s", "engine s", "engine cases/s"], rows,
               notes=[f"start-up of A (--collect-only): {med(startup):.2f} s; B's server start-up (not in B): "
                      f"{b_server:.2f} s; load average {min(loads):.1f}-{max(loads):.1f} during the rounds"])
    ratios = (("whole command (the goal)", whole), ("engines (gate duration_s vs st phases)", engines),
              ("whole command, server start counted for B", with_server),
              ("cases per CPU second (B: client + server processes)", per_cpu))
    run_.table("ratio (A cases/s) / (B cases/s), per round, then the median",
               ["ratio", "median", "rounds", f"target >= {TARGET:.1f}"],
               [[name, round(med(values), 2), ", ".join(f"{v:.2f}" for v in values),
                 "MET" if med(values) >= TARGET else "NOT MET"] for name, values in ratios])
    run_.summary.append(f"in-process gate / schemathesis CLI, cases per second of the whole command: "
                        f"{med(whole):.2f}x (median of {args.repeats} rounds; target >= {TARGET:.1f}: "
                        f"{'MET' if med(whole) >= TARGET else 'NOT MET'})")
    run_.summary.append(f"engines alone: {med(engines):.2f}x; cases per CPU second: {med(per_cpu):.2f}x")
    run_.figures.update(ratios={name: values for name, values in ratios}, target=TARGET, gate=gate, cli=cli,
                        startup_s=startup, gate_cpu_s=gate_cpu, cli_cpu_s=cli_cpu, loads=loads, total_s=total)
    run_.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
