"""Overhead of pytest-backend-gates when installed but passive (no ``--backend-gates``).

Generates a throwaway 500-test suite (10 modules x 50 tests: plain asserts, a
parametrized test, fixture-using tests) whose pyproject.toml holds a harmless
``[tool.backend-gates.coverage]`` table, which passive mode must ignore.  It then runs
``python -m pytest -q -p no:cacheprovider -p no:benchmark`` in subprocesses:

  A = plugin passive (the default: it is loaded through its pytest11 entry point)
  B = ``-p no:backend_gates`` (plugin not loaded)

After 2 warm-up runs of each, N pairs are run, the order within each pair drawn at
random (fixed seed), timing the wall clock of each subprocess.  Reading the output:
median/IQR per variant; ``median(A)/median(B)``; the mean of the per-pair ratios
A/B with a bootstrap 95% CI.  Target: ratio <= 1.02 (within 2%).  If the CI spans
1.0, the overhead is below what this machine's noise can resolve.  Whole-process
wall time includes interpreter start-up and every other installed plugin, so it is
the overhead a user actually sees.

It also measures the in-process import cost of ``pytest_backend_gates.plugin`` on
top of ``import pytest`` (``-X importtime``, sum of the self times of the modules
imported after pytest) and checks that the import pulls in none of the heavy
libraries (coverage, schemathesis, hypothesis, locust).

Exit status: 1 if a pytest run failed or did not report "500 passed", else 0 whatever
the verdict (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Run, add_options, quick_defaults

TARGET = 1.02
HEAVY = ("coverage", "schemathesis", "locust", "hypothesis")
PYPROJECT = '[tool.pytest.ini_options]\n\n[tool.backend-gates.coverage]\nsource = ["suite"]\ntotal = 90\n'
MODULE = '''import pytest


@pytest.fixture
def numbers():
    return list(range(10))


@pytest.fixture(scope="module")
def table():
    return {{"k{{}}".format(i): i for i in range(10)}}


@pytest.mark.parametrize("n", range(10))
def test_param_{m}(n):
    assert n * n >= n


''' + "".join(f"def test_plain_{{m}}_{i}():\n    assert {i} + 1 == {i + 1}\n\n\n" for i in range(30)) + "".join(
    f"def test_fixture_{{m}}_{i}(numbers, table):\n    assert sum(numbers) == 45 and table['k{i}'] == {i}\n\n\n"
    for i in range(10)
)
BASE_CMD = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark"]
VARIANTS = {"A": BASE_CMD, "B": [*BASE_CMD, "-p", "no:backend_gates"]}
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}


def write_suite(root: Path) -> None:
    (root / "pyproject.toml").write_text(PYPROJECT)
    for m in range(10):
        (root / f"test_suite_{m}.py").write_text(MODULE.format(m=m))


def run(variant: str, root: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(VARIANTS[variant], cwd=root, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or not re.search(r"\b500 passed\b", proc.stdout) or "failed" in proc.stdout:
        sys.exit(f"run {variant} FAILED (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def iqr(xs: list[float]) -> float:
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[2] - q[0]


def bootstrap_ci(xs: list[float], rng: random.Random, n: int = 10_000) -> tuple[float, float]:
    means = sorted(statistics.fmean(rng.choices(xs, k=len(xs))) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def import_cost(root: Path, repeats: int = 7) -> tuple[float, int, list[str]]:
    """Median incremental import time (ms) after pytest, modules it adds, heavy modules loaded."""
    code = f"import pytest, sys; import pytest_backend_gates.plugin; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    costs: list[float] = []
    heavy: list[str] = []
    added = 0
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=root, env=ENV, capture_output=True, text=True, check=True)
        rows = [r.split("|") for r in proc.stderr.splitlines() if r.startswith("import time:") and "[us]" not in r]
        names = [r[2].rstrip() for r in rows]
        after = rows[names.index(" pytest") + 1 :]  # top-level `pytest` is reported once its subtree is done
        costs.append(sum(int(r[0].split(":")[1]) for r in after) / 1000)
        added, heavy = len(after), [m for m in proc.stdout.strip().split(",") if m]
    return statistics.median(costs), added, heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15, help="number of A/B pairs (default 15)")
    parser.add_argument("--seed", type=int, default=20240601, help="seed for run order and bootstrap")
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, pairs=3)
    run_ = Run("passive_overhead", "Passive overhead (plugin installed, no --backend-gates)", args,
               suite="500 tests (10 modules x 50)", warmups_per_variant=2, import_repeats=7)
    rng = random.Random(args.seed)
    times: dict[str, list[float]] = {"A": [], "B": []}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bg-passive-") as tmp:
        root = Path(tmp)
        write_suite(root)
        for variant in "ABAB":  # warm-up: bytecode/assert-rewrite caches, OS file cache
            run(variant, root)
        for _ in range(args.pairs):
            order = rng.sample("AB", 2)
            pair = {v: run(v, root) for v in order}
            for v in "AB":
                times[v].append(pair[v])
            ratios.append(pair["A"] / pair["B"])
        ms, added, heavy = import_cost(root)
    med = {v: statistics.median(times[v]) for v in "AB"}
    ratio = med["A"] / med["B"]
    lo, hi = bootstrap_ci(ratios, rng)
    print(f"suite: 500 tests, {args.pairs} pairs (random order per pair) after 2 warm-ups each; python {sys.version.split()[0]}")
    for v, label in (("A", "passive (default)"), ("B", "-p no:backend_gates")):
        print(f"  {v} {label:<22} median {med[v]:.3f} s   IQR {iqr(times[v]):.3f} s")
    print(f"  median(A)/median(B)          {ratio:.4f}")
    print(f"  mean per-pair ratio A/B      {statistics.fmean(ratios):.4f}   bootstrap 95% CI [{lo:.4f}, {hi:.4f}]")
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    agree = (lo <= TARGET) == (hi <= TARGET) == (ratio <= TARGET)
    note = "the CI agrees" if agree else f"but the CI straddles {TARGET}: too noisy to be sure, rerun with more --pairs"
    run_.line(f"passive / plugin disabled, whole pytest process: median ratio {ratio:.4f} "
              f"(mean per-pair ratio {statistics.fmean(ratios):.4f}, bootstrap 95% CI [{lo:.4f}, {hi:.4f}], "
              f"{args.pairs} pairs)")
    run_.line(f"verdict: {verdict} - overhead {100 * (ratio - 1):+.2f}% vs target <= +{100 * (TARGET - 1):.0f}% ({note})")
    run_.line(f"import pytest_backend_gates.plugin on top of pytest: {ms:.1f} ms (median of 7, -X importtime), "
              f"{added} extra modules")
    if heavy:
        print("!" * 72 + f"\n!!! HEAVY MODULES IMPORTED BY THE PASSIVE PLUGIN: {', '.join(heavy)}\n" + "!" * 72)
        run_.summary.append(f"HEAVY MODULES IMPORTED BY THE PASSIVE PLUGIN: {', '.join(heavy)}")
    else:
        run_.line(f"heavy modules after import: none of {', '.join(HEAVY)} in sys.modules - OK")
    run_.table("500-test suite, wall time of the whole pytest process",
               ["variant", "median s", "IQR s"],
               [["A passive (default)", round(med["A"], 3), round(iqr(times["A"]), 3)],
                ["B -p no:backend_gates", round(med["B"], 3), round(iqr(times["B"]), 3)]])
    run_.figures.update(ratio=ratio, mean_pair_ratio=statistics.fmean(ratios), ci95=[lo, hi], target=TARGET,
                        verdict=verdict, median_s=med, iqr_s={v: iqr(times[v]) for v in "AB"},
                        times_s=times, import_ms=ms, import_modules=added, heavy_modules=heavy)
    run_.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
