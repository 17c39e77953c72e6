"""Detection rate of the race probes on the bundled races, and their fixed twins.

For each example of examples/race (bank withdraw, `len(items) + 1` ids, username
check-then-insert, the Flask wallet's withdraw over HTTP, and the PostgreSQL bank when
BACKEND_GATES_PG_DSN reaches a server), runs 50 probes with the default settings
(8 threads x 20 rounds, seeded line-level GIL hand-offs) on the buggy module and on its
fixed twin, and counts how often the race was found; then the same threads without
amplification (schedule "none": barrier only, default switch interval) as the baseline.
Targets: every race found in at least 49/50 probes, every twin clean in 50/50, a probe
under 2 s.

    .venv/bin/python benchmarks/race_detection.py [--probes 50]

`--stacks` measures the automatic probe (`auto = true`) on the real-framework services of
examples/stacks instead: each twin (buggy: `STACK_DEFECTS=1`) is run with `pytest
--backend-gates=race` (`--gates race,coverage`: with coverage.py's tracer on, as in a full
run; `--gates all`: the full run) on `--runs` random seeds (printed, to replay), and a run
counts as found when its report holds the stack's expected race finding (expected.toml, the
automatic probe's entry), as a false positive when the fixed twin's report holds any race
finding, as "no verdict" when it crashed or the race gate was `error`. `--before REF` runs
the plugin as it was at that git commit too, in the same run, for a before/after table (a
commit from before identities, SPEC section 6, cannot log in to the stacks: its runs get 401s).
Target: found in every run on every stack, no false positive, a verdict every time.

    .venv/bin/python benchmarks/race_detection.py --stacks [fastapi_sqlmodel ...] [--runs 10] [--before REF]
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import io
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "race"
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(ROOT))

from _common import Run, add_options, quick_defaults  # noqa: E402

from pytest_backend_gates.gates.race.probe import Race, RaceError  # noqa: E402

Check = Callable[[Race, Any], bool]  # runs one probe on the module; True when the race showed


def bank(race: Race, module: Any) -> bool:
    account = module.Account(balance=1_000_000)
    taken = race.run(account.withdraw, 10)
    return bool(account.balance != 1_000_000 - sum(taken))


def tickets(race: Race, module: Any) -> bool:
    ids = race.run(module.TicketStore().create, "printer on fire")
    return len(set(ids)) != len(ids)


def signup(race: Race, module: Any) -> bool:
    users = module.Users()
    outcomes = race.run(lambda: users.try_register(f"ann{race.round}"))  # a new name per round
    return any(round_outcomes.count(f"ann{r}") != 1 or users.count(f"ann{r}") != 1
               for r, round_outcomes in enumerate(outcomes.by_round, 1))


def wallet_http(race: Race, module: Any) -> bool:
    import httpx

    with httpx.Client(transport=httpx.WSGITransport(app=module.app), base_url="http://testserver") as api:
        account = api.post("/accounts", json={"owner": "ann", "balance": 1_000_000}).json()
        responses = race.run(api.post, f"/accounts/{account['id']}/withdraw", json={"amount": 10})
        paid = sum(10 for r in responses if r.status_code == 200)
        return bool(api.get(f"/accounts/{account['id']}").json()["balance"] != 1_000_000 - paid)


def bank_postgres(race: Race, module: Any) -> bool:
    bank = module.Bank(os.environ["BACKEND_GATES_PG_DSN"], balance=1_000_000)
    try:
        taken = race.run(bank.withdraw, 10)
        return bank.balance() != 1_000_000 - sum(taken)
    finally:
        bank.close()


def postgres_reachable() -> bool:
    dsn = os.environ.get("BACKEND_GATES_PG_DSN")
    if not dsn:
        return False
    try:
        import psycopg

        psycopg.connect(dsn, connect_timeout=3).close()
        return True
    except Exception:
        return False


EXAMPLES_TO_RUN: list[tuple[str, str, Check]] = [
    ("bank withdraw (read-check-write)", "bank", bank),
    ("ticket ids (len(items) + 1)", "tickets", tickets),
    ("username check-then-insert (SQLite)", "signup", signup),
    ("wallet withdraw over HTTP (Flask)", "wallet_flask", wallet_http),
]


def measure(check: Check, module: Any, probes: int, schedule: str) -> tuple[int, list[float]]:
    found, times = 0, []
    for seed in range(probes):
        race = Race(rootdir=EXAMPLES, seed=seed, schedule=schedule)  # type: ignore[arg-type]
        started = time.perf_counter()
        try:
            hit = check(race, module)
        except RaceError:
            hit = True
        times.append(time.perf_counter() - started)
        found += hit
    return found, times


# -- the automatic probe on the real-framework stacks -----------------------------------------

STACKS_DIR = ROOT / "examples" / "stacks"
STACK_RUN_TIMEOUT = 900  # seconds for one run of one twin, on a loaded machine
AUTO_CHECKS = ("race-server-error", "race-duplicate-id", "race-read-back")


def _stack_race_defects(stack: str) -> list[dict[str, str]]:
    """The automatic probe's expected findings on the buggy twin (not the team's own race tests)."""
    defects = tomllib.loads((STACKS_DIR / stack / "expected.toml").read_text())["defect"]
    return [d for d in defects if d["gate"] == "race" and d["check"] in AUTO_CHECKS]


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names
            if name.startswith(("stack.db", "test_stack.db", "backend-gates.json", ".hypothesis", ".coverage"))
            or name in ("__pycache__", ".pytest_cache", ".benchmarks", ".backend-gates")}


class StackRunFailed(Exception):
    """A run that gave no verdict on races: no report (a crash), or the race gate `error`."""


def run_stack(stack: str, buggy: bool, seed: int, gates: str, plugin: Path) -> tuple[bool, bool, float, str]:
    """One run of one twin: (found the expected race, any race finding at all, seconds, first finding);
    StackRunFailed when the run gave no verdict."""
    with tempfile.TemporaryDirectory(prefix=f"race-{stack}-") as where:
        project = Path(where) / stack
        shutil.copytree(STACKS_DIR / stack, project, ignore=_ignore)
        # The signing key and the seeded user's password; the gates log in themselves (identities).
        env = {**os.environ, "STACK_SECRET_KEY": secrets.token_hex(24), "STACK_PASSWORD": secrets.token_urlsafe(18),
               "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": os.pathsep.join([str(plugin), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        env.pop("STACK_DEFECTS", None)
        if buggy:
            env["STACK_DEFECTS"] = "1"
        command = [sys.executable, "-m", "pytest", f"--backend-gates={gates}", "-p", "no:cacheprovider", "-q",
                   f"--backend-gates-seed={seed}", f"--backend-gates-race-seed={seed}"]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False,
                              timeout=STACK_RUN_TIMEOUT)
        seconds = time.perf_counter() - started
        report_file = project / "backend-gates.json"
        if not report_file.exists():
            raise StackRunFailed(f"no report (exit {done.returncode}): {done.stdout.strip()[-300:]}")
        report = json.loads(report_file.read_text())
    race = next(g for g in report["gates"] if g["gate"] == "race")
    if race["status"] == "error":
        raise StackRunFailed(f"the race gate is error: {race['summary']}")
    findings = [v for v in race["violations"] if v["check"] in AUTO_CHECKS]
    found = any(v["check"] == d["check"] and fnmatch.fnmatchcase(v["where"], d["where"])
                for v in findings for d in _stack_race_defects(stack))
    first = f"{findings[0]['where']} [{findings[0]['check']}]: {findings[0]['message'][:120]}" if findings else ""
    return found, bool(findings), seconds, first


def _export_plugin(ref: str, into: Path) -> Path:
    """The plugin package as it was at git commit `ref` (for a before/after table in one run)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "pytest_backend_gates"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def stacks_main(args: argparse.Namespace) -> int:
    stacks = args.stacks or sorted(p.parent.name for p in STACKS_DIR.glob("*/expected.toml"))
    seeds = [random.SystemRandom().randrange(2**31) for _ in range(args.runs)]
    run_ = Run("race_detection", "Race detection: the automatic probe on the framework stacks", args, seeds=seeds,
               stacks_run=stacks)
    run_.settings.pop("probes", None)  # the examples' option, not this mode's
    rows: list[list[object]] = []
    print(f"{args.runs} runs per twin, pytest --backend-gates={args.gates}, seeds {seeds}")
    with tempfile.TemporaryDirectory(prefix="race-before-") as before_dir:
        plugins = [("after", ROOT)]
        if args.before:
            plugins.insert(0, (f"before ({args.before})", _export_plugin(args.before, Path(before_dir))))
        print(f"{'stack':18} {'plugin':22} {'buggy found':>12} {'fixed flagged':>14} {'no verdict':>11} {'mean run':>9}")
        missed = []
        for stack in stacks:
            for label, plugin in plugins:
                found = flagged = failed = 0
                times = []
                for seed in seeds:
                    for buggy in (True, False):
                        twin = "buggy" if buggy else "fixed"
                        try:
                            hit, any_finding, seconds, first = run_stack(stack, buggy, seed, args.gates, plugin)
                        except StackRunFailed as exc:  # a crash is counted, and the table goes on
                            failed += 1
                            print(f"  {stack} {label}: {twin} twin, seed {seed}: {exc}", flush=True)
                            continue
                        times.append(seconds)
                        if buggy:
                            found += hit
                            if not hit:
                                print(f"  {stack} {label}: buggy twin, seed {seed}: not found", flush=True)
                        elif any_finding:
                            flagged += 1
                            print(f"  {stack} {label}: fixed twin, seed {seed}: {first}", flush=True)
                mean = f"{statistics.mean(times):>8.1f}s" if times else f"{'-':>9}"
                print(f"{stack:18} {label:22} {found:>9}/{args.runs} {flagged:>11}/{args.runs} "
                      f"{failed:>8}/{2 * args.runs} {mean}", flush=True)
                rows.append([stack, label, f"{found}/{args.runs}", f"{flagged}/{args.runs}", f"{failed}/{2 * args.runs}",
                             round(statistics.mean(times), 1) if times else None])
                if plugin is ROOT and found < args.runs:
                    missed.append(f"{stack}: found in {found}/{args.runs}")
                if plugin is ROOT and flagged:
                    missed.append(f"{stack} fixed twin: flagged in {flagged}/{args.runs}")
                if plugin is ROOT and failed:
                    missed.append(f"{stack}: {failed} runs without a verdict")
    run_.table(f"pytest --backend-gates={args.gates} on each twin, {args.runs} random seeds",
               ["stack", "plugin", "buggy twin: race found", "fixed twin: flagged", "no verdict", "mean run s"], rows)
    run_.line("targets met (found in every run, no false positive, a verdict every time)" if not missed
              else "targets MISSED: " + "; ".join(missed))
    run_.figures["rows"] = rows
    run_.write()
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--stacks", nargs="*", default=None, metavar="STACK",
                        help="measure the automatic probe on examples/stacks (all, or the ones named)")
    parser.add_argument("--runs", type=int, default=10, help="runs per twin with --stacks (random seeds)")
    parser.add_argument("--gates", default="race", help="gates enabled with --stacks, e.g. race,coverage")
    parser.add_argument("--before", metavar="REF", help="with --stacks: also the plugin at this git commit")
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, probes=5, runs=1)
    if args.stacks is not None:
        return stacks_main(args)
    run_ = Run("race_detection", "Race detection rates", args, threads=8, rounds=20,
               amplified="seeded line-level GIL hand-offs (schedule 'stagger')",
               baseline="the same threads, schedule 'none' (barrier only)")
    for stacks_only in ("stacks", "runs", "gates", "before"):  # the --stacks mode's options
        run_.settings.pop(stacks_only, None)
    rows: list[list[object]] = []
    n = args.probes
    examples = list(EXAMPLES_TO_RUN)
    if postgres_reachable():
        examples.append(("bank withdraw on PostgreSQL", "bank_pg", bank_postgres))
    else:
        run_.line("note: BACKEND_GATES_PG_DSN unset or unreachable: the PostgreSQL example is left out")
    print(f"{n} probes each, 8 threads x 20 rounds; 'found' = the race showed in that probe")
    print(f"{'example':40} {'variant':6} {'amplified':>10} {'baseline':>9} {'mean probe':>11} {'max probe':>10}")
    missed = []
    for title, stem, check in examples:
        for variant in ("buggy", "fixed"):
            module = importlib.import_module(f"{stem}_{variant}")
            found, times = measure(check, module, n, "stagger")
            baseline, _ = measure(check, module, n, "none")
            print(f"{title:40} {variant:6} {found:>7}/{n} {baseline:>6}/{n} {statistics.mean(times) * 1000:>9.0f}ms "
                  f"{max(times) * 1000:>8.0f}ms", flush=True)
            rows.append([title, variant, f"{found}/{n}", f"{baseline}/{n}", round(statistics.mean(times) * 1000),
                         round(max(times) * 1000)])
            run_.figures[f"{stem}_{variant}"] = {"found": found, "baseline": baseline, "probes": n,
                                                  "mean_ms": statistics.mean(times) * 1000,
                                                  "max_ms": max(times) * 1000}
            if variant == "buggy" and found < n - n // 50:
                missed.append(f"{title}: found in {found}/{n} (target >= {n - n // 50})")
            if variant == "fixed" and found:
                missed.append(f"{title} fixed twin: flagged in {found}/{n} (target 0)")
            if max(times) >= 2.0:
                missed.append(f"{title} {variant}: a probe took {max(times):.2f}s (target < 2 s)")
    run_.table(f"{n} probes per module, 8 threads x 20 rounds; 'found' = the race showed in that probe",
               ["example", "variant", "found (amplified)", "found (baseline: no amplification)", "mean probe ms",
                "max probe ms"], rows)
    run_.line("targets met (every race found in >= 98% of probes, every fixed twin clean, a probe under 2 s)"
              if not missed else "targets MISSED: " + "; ".join(missed))
    run_.write()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
