"""Overhead of the security gate's response rules on the contract gate.

Runs `pytest --backend-gates` on the fixed users app of examples/security with the
same seed, once with only [tool.backend-gates.contract] and once with
[tool.backend-gates.security] added, alternating, and compares the contract gate's
engine time (`duration_s` in the JSON report: schemathesis running the phases, every
response then also judged by the security rules). Target: ratio under 1.3. It also
prints the whole command's wall time both ways: with security, that includes the active
probes (security[probe ...] items), which are extra requests, not overhead per response.

    .venv/bin/python benchmarks/security_overhead.py [--rounds 5] [--max-examples 50] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Run, add_options, quick_defaults

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "security"
BASE = """[tool.pytest.ini_options]
pythonpath = ["."]
[tool.backend-gates]
report = "gates.json"
[tool.backend-gates.contract]
app = "users_fastapi_fixed:app"
max_examples = {max_examples}
"""
# See contract_throughput.py: assertion rewriting without bytecode caching is the environment's cost.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")}


def run(root: Path, with_security: bool, max_examples: int) -> tuple[float, int, float]:
    security = "[tool.backend-gates.security]\n" if with_security else ""
    (root / "pyproject.toml").write_text(BASE.format(max_examples=max_examples) + security)
    (root / "gates.json").unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--backend-gates", "--backend-gates-seed=3",
                           "-p", "no:cacheprovider", "-q"], cwd=root, env=ENV, capture_output=True, text=True,
                          timeout=600)
    wall = time.perf_counter() - started
    report = json.loads((root / "gates.json").read_text())
    gates = {g["gate"]: g for g in report["gates"]}
    if proc.returncode != 0 or any(g["status"] != "passed" for g in gates.values()):
        raise SystemExit(f"run failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
    contract = gates["contract"]
    if with_security and gates["security"]["measured"]["responses"] != contract["measured"]["cases"]:
        print(f"  note: security saw {gates['security']['measured']['responses']} responses for "
              f"{contract['measured']['cases']} cases")
    return float(contract["duration_s"]), int(contract["measured"]["cases"]), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-examples", type=int, default=50)
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, rounds=1, max_examples=10)
    run_ = Run("security_overhead", "Security-rule overhead on the contract gate", args,
               app="examples/security users_fastapi_fixed", seed=3, warmups=1)
    with tempfile.TemporaryDirectory(prefix="bg-security-") as tmp:
        root = Path(tmp)
        for source in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("*.yaml")]:
            shutil.copy(source, root / source.name)
        run(root, False, args.max_examples), run(root, True, args.max_examples)  # warm-up
        plain, checked = [], []
        for _ in range(args.rounds):
            plain.append(run(root, False, args.max_examples))
            checked.append(run(root, True, args.max_examples))
    a = statistics.median(t for t, _, _ in plain)
    b = statistics.median(t for t, _, _ in checked)
    wall_a = statistics.median(w for _, _, w in plain)
    wall_b = statistics.median(w for _, _, w in checked)
    cases = statistics.median(c for _, c, _ in plain)
    ratio = b / a
    print(f"security overhead: examples/security users_fastapi_fixed, seed 3, max_examples {args.max_examples}, "
          f"{args.rounds} rounds")
    print(f"  contract only        engine {a:.2f} s  ({cases:g} cases)  raw {[round(t, 2) for t, _, _ in plain]}")
    print(f"  contract + security  engine {b:.2f} s  raw {[round(t, 2) for t, _, _ in checked]}")
    run_.line(f"contract gate's engine time with / without the security rules: ratio {ratio:.2f} "
              f"({b:.2f} s / {a:.2f} s, {cases:g} cases, median of {args.rounds}); "
              f"target < 1.3 -> {'MET' if ratio < 1.3 else 'NOT MET'}")
    run_.line(f"whole command: {wall_a:.2f} s without, {wall_b:.2f} s with security and its probes "
              f"(ratio {wall_b / wall_a:.2f}; the probes are extra requests, not overhead per response)")
    run_.table("`pytest --backend-gates --backend-gates-seed=3` on users_fastapi_fixed (medians)",
               ["variant", "contract engine s", "whole command s", "cases"],
               [["contract only", round(a, 2), round(wall_a, 2), cases],
                ["contract + security", round(b, 2), round(wall_b, 2), cases]])
    run_.figures.update(ratio=ratio, whole_ratio=wall_b / wall_a, engine_s={"plain": a, "security": b},
                        wall_s={"plain": wall_a, "security": wall_b}, cases=cases, target=1.3,
                        rounds={"plain": plain, "security": checked})
    run_.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
