"""Overhead of `input_validation.check` against a hand-written hypothesis test of the same function.

Both property-test the fixed quantity parser of examples/validation with valid and
invalid inputs and the same number of examples, in one process, alternating:

- hand-written: `@given(st.one_of(st.from_regex(QUANTITY, fullmatch=True), st.text()))`,
  asserting that a matching string parses and anything else raises ValueError (the
  comparison the target is about);
- for scale, `@given(st.from_regex(QUANTITY, fullmatch=True))` with valid inputs only;
- check: `input_validation.check(parse_quantity, accepts=QUANTITY)`, which also derives
  invalid strings, wrong types and hostile inputs, classifies each input and calls the
  function under a per-call deadline.

It reports examples per second of each and their ratio (target: check's overhead under
20%, i.e. a ratio of at least 0.83). Hypothesis' database is off for both.

    .venv/bin/python benchmarks/validation_overhead.py [--rounds 7] [--examples 300] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "validation"))

import pytest  # noqa: E402
from _common import Run, add_options, quick_defaults  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st
from quantity import QUANTITY, parse_quantity  # noqa: E402

from pytest_backend_gates.config import GatesConfig  # noqa: E402
from pytest_backend_gates.gates.validation.check import InputValidation  # noqa: E402
from pytest_backend_gates.settings import ValidationSettings  # noqa: E402

settings.register_profile("bench", database=None, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("bench")


def hand_written(examples: int) -> tuple[int, float]:
    calls = 0

    @settings(max_examples=examples)
    @given(st.one_of(st.from_regex(QUANTITY, fullmatch=True), st.text()))
    def test(text: str) -> None:
        nonlocal calls
        calls += 1
        if QUANTITY.fullmatch(text):
            assert parse_quantity(text) >= 1
        else:
            with pytest.raises(ValueError):
                parse_quantity(text)

    started = time.perf_counter()
    test()
    return calls, time.perf_counter() - started


def valid_only(examples: int) -> tuple[int, float]:
    calls = 0

    @settings(max_examples=examples)
    @given(st.from_regex(QUANTITY, fullmatch=True))
    def test(text: str) -> None:
        nonlocal calls
        calls += 1
        assert parse_quantity(text) >= 1

    started = time.perf_counter()
    test()
    return calls, time.perf_counter() - started


def with_check(examples: int) -> tuple[int, float]:
    request = types.SimpleNamespace(config=types.SimpleNamespace(getoption=lambda name, default=None: default),
                                    node=types.SimpleNamespace(nodeid="benchmarks/validation_overhead.py"))
    # No gate (None): the fixture as a passive run builds it; the config only lends its redactor.
    checker = InputValidation(request, ValidationSettings(), None, GatesConfig(path=None))  # type: ignore[arg-type]
    started = time.perf_counter()
    summary = checker.check(parse_quantity, accepts=QUANTITY, max_examples=examples, seed=0)
    return summary.inputs, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--examples", type=int, default=300)
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, rounds=2, examples=50)
    run_ = Run("validation_overhead", "Validation overhead: input_validation.check vs a hand-written hypothesis test",
               args, function="examples/validation quantity.parse_quantity", warmup_examples=20)
    runs = {"hand-written @given": hand_written, "@given, valid inputs only": valid_only,
            "input_validation.check": with_check}
    for run in runs.values():  # warm up: imports, regex compilation, strategy caches
        run(20)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            calls, seconds = run(args.examples)
            rates[name].append(calls / seconds)
    print(f"validation overhead: {args.examples} examples x {args.rounds} rounds, median examples/s")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in medians.items():
        print(f"  {name:24} {value:9.0f} examples/s")
    ratio = medians["input_validation.check"] / medians["hand-written @given"]
    plain = medians["input_validation.check"] / medians["@given, valid inputs only"]
    run_.line(f"input_validation.check / hand-written @given (valid and invalid inputs): {ratio:.2f} of its "
              f"examples per second (overhead {max(0.0, 1 - ratio):.0%}; target: under 20%)")
    run_.line(f"input_validation.check / @given with valid inputs only: {plain:.2f} (a test that checks less)")
    run_.table(f"examples per second, median of {args.rounds} rounds of {args.examples} examples, one process",
               ["variant", "examples/s"], [[name, round(value)] for name, value in medians.items()])
    run_.figures.update(ratio=ratio, ratio_valid_only=plain, target_overhead=0.2, examples_per_s=medians,
                        rounds=rates)
    run_.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
