"""False positives of the security gate: the fixed apps must pass run after run, with random seeds.

For each fixed twin of examples/security and the large real-world-like app of
examples/realworld, runs `pytest --backend-gates` (contract + security gates, all
probes on, `max_examples = 20` as in tests/test_security_examples.py) N times in a
temporary project, each with a random seed (no --backend-gates-seed), and prints
per app "passed N/N" and every finding of a failed run with its seed (from the
JSON report). `--buggy` runs the buggy twins instead and prints how often each
seeded defect of examples/security/README.md was found.

    .venv/bin/python benchmarks/security_false_positives.py [--runs 10] [--apps NAME ...] [--buggy] [--quick] [--json PATH]

Measured 2026-11-26 (schemathesis 4.32.5, FastAPI 0.165, Flask 3.1.3; 2 cores shared with other
jobs, load average ~10, so the seconds are not comparable):

    fixed apps, --runs 10, max_examples 20, random seeds
    users_fastapi_fixed    passed 10/10  (3664 responses checked, 396 s)
    notes_flask_fixed      passed 10/10  (3716 responses checked, 69 s)
    orders_fastapi_fixed   passed 10/10  (2602 responses checked, 79 s)
    storefront_api         passed 10/10  (18536 responses checked, 523 s)
    storefront_api, --runs 3 --max-examples 100: passed 3/3 (10698 responses checked)

    --buggy, --runs 10: every seeded defect of examples/security/README.md found in 10/10 runs
    (users_fastapi_buggy: 10 defects, 3889 responses; notes_flask_buggy: 6, 4145;
    orders_fastapi_buggy: 2, 2642)

The large app needed one rule fix and one probe fix before it passed (examples/realworld/README.md).

Measured 2026-12-07 for issue 11 (sensitive-field judges whose value it is, header-missing warns where
nothing can be sniffed, probes on the served path and never passing on nothing), before = 054a7a2,
after = branch fix-security; --runs 5 (fixed) and --runs 3 --buggy, max_examples 20:

    fixed apps            before     after
    users_fastapi_fixed   5/5        5/5
    notes_flask_fixed     5/5        5/5
    orders_fastapi_fixed  5/5        5/5
    storefront_api        5/5        5/5
    --buggy: every seeded defect found in 3/3 runs, before and after; no unexpected finding

The bundled apps were written around the old rules (their 422s hold no echo, their schemas no
`servers`), so the difference shows on the five framework stacks of examples/stacks (fixed and
buggy twins, `pytest --backend-gates=contract,security`, one run each, main at 966e79a/cbe2156
without and with this branch merged):

    before: 5 false failing findings on the fixed twins (flask_smorest: sensitive-field on
            /openapi.json x2 and on marshmallow 422s x2; django_drf: sensitive-field on DRF's 400
            message for password) and the same 5 again on the buggy twins, plus 3 header-missing
            failures on the buggy twins that only the server's bare "Internal Server Error" 500s
            lacked; connexion_api's probes all went to /pets instead of /api/pets (404) and passed.
    after:  0 failing findings and 0 errors on all 10 runs; 3 header-missing warnings (the bare
            500s); every probe reached the handlers (connexion injection: 200 x12, 201 x15, 400 x9,
            401 x3, 404 x6); flask_smorest's mass-assignment probe skips with its reason (no
            smallest write accepted: 404 x10, 409 x4, 401 x2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import Run, add_options, quick_defaults

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TOKEN = "s3cr3t-orders-token"
# See contract_throughput.py: assertion rewriting without bytecode caching is the environment's cost.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")}


@dataclass(frozen=True)
class App:
    name: str
    folder: str
    module: str
    contract: str = ""  # extra keys of [tool.backend-gates.contract]
    security: str = ""  # keys of [tool.backend-gates.security]
    env: tuple[tuple[str, str], ...] = ()


ORDERS_AUTH = 'headers = { Authorization = "Bearer ${ORDERS_API_TOKEN}" }\n'
FIXED = [
    App("users_fastapi_fixed", "security", "users_fastapi_fixed", security='rate_limits = { "POST /login" = 5 }\n'),
    App("notes_flask_fixed", "security", "notes_flask_fixed", contract='schema = "notes_flask_openapi.yaml"\n'),
    App("orders_fastapi_fixed", "security", "orders_fastapi_fixed", contract=ORDERS_AUTH,
        env=(("ORDERS_API_TOKEN", TOKEN),)),
    App("storefront_api", "realworld", "storefront_api",
        contract='headers = { Authorization = "Bearer ${STOREFRONT_ADMIN_TOKEN}" }\n',
        security='rate_limits = { "POST /auth/login" = 5 }\n',
        env=(("STOREFRONT_ADMIN_TOKEN", TOKEN),)),
]
BUGGY = [
    App(a.name.replace("_fixed", "_buggy"), a.folder, a.module.replace("_fixed", "_buggy"), a.contract, a.security, a.env)
    for a in FIXED if a.name.endswith("_fixed")
]
# The seeded defects, as in tests/test_security_examples.py: (rule, operation or None for app-wide).
DEFECTS: dict[str, set[tuple[str, str | None]]] = {
    "users_fastapi_buggy": {("leak-traceback", "POST /login"), ("sensitive-field", "GET /users/{user_id}"),
                            ("cookie-flags", "POST /login"), ("server-banner", None), ("header-missing", None),
                            ("xss-reflected", "GET /notes/search"), ("sqli-error", "GET /notes/search"),
                            ("leak-sql-error", "GET /notes/search"), ("rate-limit", "POST /login"), ("cors", None)},
    # the debugger page (N1) carries the traceback too
    "notes_flask_buggy": {("leak-debug-page", "PATCH /users/{user_id}"), ("leak-traceback", "PATCH /users/{user_id}"),
                          ("sensitive-field", "GET /notes"),
                          ("header-missing", None), ("sqli-error", "GET /notes"), ("leak-sql-error", "GET /notes"),
                          ("mass-assignment", "PATCH /users/{user_id}")},
    "orders_fastapi_buggy": {("auth-ignored", "GET /reports/revenue"), ("mass-assignment", "PATCH /orders/{order_id}")},
}


def project(root: Path, app: App, max_examples: int) -> None:
    for source in [*(EXAMPLES / app.folder).glob("*.py"), *(EXAMPLES / app.folder).glob("*.yaml")]:
        shutil.copy(source, root / source.name)
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\n[tool.backend-gates]\nreport = "gates.json"\n'
        f'[tool.backend-gates.contract]\napp = "{app.module}:app"\nmax_examples = {max_examples}\n{app.contract}'
        f"[tool.backend-gates.security]\n{app.security}")


def run_once(root: Path, app: App) -> tuple[int, dict[str, Any], float]:
    (root / "gates.json").unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--backend-gates", "-p", "no:cacheprovider", "-q"],
                          cwd=root, env={**ENV, **dict(app.env)}, capture_output=True, text=True, timeout=1200)
    seconds = time.monotonic() - started
    if not (root / "gates.json").exists():
        raise SystemExit(f"{app.name}: no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return proc.returncode, json.loads((root / "gates.json").read_text()), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--buggy", action="store_true", help="detection rate of the seeded defects instead")
    parser.add_argument("--apps", nargs="*", help="only these apps (names as printed)")
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, runs=1, max_examples=5)
    apps = [a for a in (BUGGY if args.buggy else FIXED) if not args.apps or a.name in args.apps]
    run_ = Run("security_false_positives",
               "Security gate: seeded defects found on the buggy twins" if args.buggy
               else "Security gate: false positives on the fixed apps", args,
               gates="contract + security, every probe", seeds="random (no --backend-gates-seed)",
               apps_run=[a.name for a in apps])
    rows: list[list[object]] = []
    status = 0
    print(f"security false positives: {'buggy twins, detection rate' if args.buggy else 'fixed apps'}, "
          f"{args.runs} runs each, random seeds, max_examples {args.max_examples}", flush=True)
    for app in apps:
        passed, responses, seconds = 0, 0, 0.0
        detected: Counter[tuple[str, str | None]] = Counter()
        unexpected: Counter[tuple[str, str]] = Counter()  # findings of a rule no defect is seeded for
        failures: list[str] = []
        with tempfile.TemporaryDirectory(prefix="bg-security-fp-") as tmp:
            root = Path(tmp)
            project(root, app, args.max_examples)
            for _ in range(args.runs):
                code, report, took = run_once(root, app)
                seconds += took
                gates = {g["gate"]: g for g in report["gates"]}
                seed = gates.get("contract", {}).get("measured", {}).get("seed")
                responses += int(gates.get("security", {}).get("measured", {}).get("responses", 0))
                ok = code == 0 and all(g["status"] == "passed" for g in gates.values())
                passed += ok
                if args.buggy:
                    found = {(v["check"], v["where"]) for v in gates.get("security", {}).get("violations", [])}
                    for rule, where in DEFECTS.get(app.name, set()):
                        detected[(rule, where)] += any(r == rule and (where is None or w == where) for r, w in found)
                    seeded = {rule for rule, _ in DEFECTS.get(app.name, set())}
                    unexpected.update((r, w) for r, w in found if r not in seeded)
                    if code != 1:
                        failures.append(f"  seed {seed}: exit {code}, expected 1")
                elif not ok:
                    for g in gates.values():
                        if g["status"] != "passed":
                            failures.append(f"  seed {seed}: {g['gate']} {g['status']}: {g['summary']}")
                            failures += [f"    {v['where']} [{v['check']}] {v['message']}" for v in g["violations"]]
        if args.buggy:
            print(f"{app.name:22} {args.runs} runs, {responses} responses checked, {seconds:.0f} s")
            for (rule, where), count in sorted(detected.items(), key=lambda item: (item[0][0], item[0][1] or "")):
                print(f"    {rule:16} {where or '(app-wide)':28} found {count}/{args.runs}")
            for (rule, where), count in sorted(unexpected.items()):
                print(f"    UNEXPECTED {rule} on {where}: {count}/{args.runs} runs")
            print("\n".join(failures)) if failures else None
            for (rule, where), count in sorted(detected.items(), key=lambda item: (item[0][0], item[0][1] or "")):
                rows.append([app.name, rule, where or "(app-wide)", f"{count}/{args.runs}"])
            rows.extend([app.name, f"UNEXPECTED {rule}", where, f"{count}/{args.runs}"]
                        for (rule, where), count in sorted(unexpected.items()))
            run_.figures[app.name] = {"runs": args.runs, "responses": responses, "seconds": seconds,
                                      "found": {f"{r} {w or '(app-wide)'}": c for (r, w), c in detected.items()},
                                      "unexpected": {f"{r} {w}": c for (r, w), c in unexpected.items()},
                                      "failures": failures}
        else:
            print(f"{app.name:22} passed {passed}/{args.runs}  ({responses} responses checked, {seconds:.0f} s)",
                  flush=True)
            print("\n".join(failures), flush=True) if failures else None
            status |= passed != args.runs
            rows.append([app.name, f"{passed}/{args.runs}", responses, round(seconds)])
            run_.figures[app.name] = {"runs": args.runs, "passed": passed, "responses": responses, "seconds": seconds,
                                      "failures": failures}
            if failures:
                run_.summary.append(f"{app.name}: " + "; ".join(f.strip() for f in failures[:5]))
    if args.buggy:
        missed = [f"{r[0]} {r[1]} {r[2]}" for r in rows if not str(r[1]).startswith("UNEXPECTED")
                  and r[3] != f"{args.runs}/{args.runs}"]
        unexpected_rows = [r for r in rows if str(r[1]).startswith("UNEXPECTED")]
        run_.line(f"seeded defects found in every run: {sum(1 for r in rows if r[3] == f'{args.runs}/{args.runs}')} of "
                  f"{len(rows) - len(unexpected_rows)}" + (f"; missed in some run: {', '.join(missed)}" if missed else "")
                  + f"; unexpected findings: {len(unexpected_rows)}")
        run_.table(f"buggy twins, {args.runs} runs each, max_examples {args.max_examples}",
                   ["app", "rule", "where", "found"], rows)
    else:
        clean = sum(1 for r in rows if r[1] == f"{args.runs}/{args.runs}")
        run_.line(f"fixed apps passing every run: {clean} of {len(rows)} ({args.runs} random seeds each, "
                  f"{sum(int(r[2]) for r in rows)} responses checked in all)")
        run_.table(f"fixed apps, {args.runs} runs each, max_examples {args.max_examples}",
                   ["app", "passed", "responses checked", "seconds"], rows)
    run_.write()
    return status


if __name__ == "__main__":
    sys.exit(main())
