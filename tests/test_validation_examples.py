"""The bundled validation examples (examples/validation): every seeded defect is found, with
a shrunk input, and every fixed twin passes on 10 random seeds."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import example_files, gate, read_report

# test id -> (function, accepts, rejects)
BUGGY = {
    "quantity_int": ("quantity.parse_quantity_int", "quantity.QUANTITY", "ValueError"),
    "quantity_dollar": ("quantity.parse_quantity_dollar", "quantity.QUANTITY", "ValueError"),
    "range": ("date_range.DateRangeBuggy.model_validate", "date_range.DateRangeBuggy", "ValidationError"),
    "stay": ("date_range.stay_end_buggy", "date_range.StayBuggy", "ValidationError"),
    "username": ("accounts.validate_username_buggy", "accounts.USERNAME", "ValueError"),
    "email": ("accounts.validate_email_buggy", "accounts.EMAIL", "ValueError"),
    "pagination": ("pagination.page_window_buggy", "pagination.PaginationParams", "ValueError"),
}
FIXED = {
    "quantity": ("quantity.parse_quantity", "quantity.QUANTITY", "ValueError"),
    "range": ("date_range.DateRange.model_validate", "date_range.DateRange", "ValidationError"),
    "stay": ("date_range.stay_end", "date_range.Stay", "ValidationError"),
    "username": ("accounts.validate_username", "accounts.USERNAME", "ValueError"),
    "email": ("accounts.validate_email", "accounts.EMAIL", "ValueError"),
    "pagination": ("pagination.page_window", "pagination.PaginationParams", "ValueError"),
}
# What the failure of each buggy example must show: the defect, on a shrunk input.
FOUND = {
    "quantity_int": ["invalid input accepted: parse_quantity_int(*) returned *; expected ValueError"],
    "quantity_dollar": ["invalid input accepted: parse_quantity_dollar(*) returned *; expected ValueError"],
    "range": ["DateRangeBuggy.model_validate({'start': *}) raised TypeError: '<' not supported between instances "
              "of 'NoneType' and 'datetime.date' (at date_range.py:* in _ordered) instead of a validation error"],
    "stay": ["valid input rejected: stay_end_buggy({'check_in': '9999-12-*', 'nights': *}) raised OverflowError: "
             "date value out of range (at date_range.py:* in stay_end_buggy)"],
    "username": ["*validate_username_buggy(*"],
    "email": ["invalid input validate_email_buggy(*) did not return within 300ms"],
    "pagination": ["*page_window_buggy(*"],
}


def _table(entries: dict[str, tuple[str, str, str]]) -> str:
    return "{\n" + "".join(f"    {name!r}: ({fn}, {accepts}, {rejects}),\n"
                           for name, (fn, accepts, rejects) in entries.items()) + "}"


def validation_examples(pytester: pytest.Pytester, seeds: list[int]) -> None:
    example_files(pytester, "validation", "[tool.backend-gates.validation]\nmax_examples = 25\n")
    pytester.makepyfile(test_examples=TESTS.format(buggy=_table(BUGGY), fixed=_table(FIXED), seeds=seeds))


TESTS = """
import pytest
from pydantic import ValidationError

import accounts, date_range, pagination, quantity

BUGGY = {buggy}
FIXED = {fixed}


@pytest.mark.parametrize("name", BUGGY)
def test_buggy(input_validation, name):
    fn, accepts, rejects = BUGGY[name]
    # it stops at the first failure: a bigger budget costs nothing when the defect shows early
    input_validation.check(fn, accepts=accepts, rejects=rejects, max_examples=300, deadline="300ms")


@pytest.mark.parametrize("seed", {seeds!r})
@pytest.mark.parametrize("name", FIXED)
def test_fixed(input_validation, name, seed):
    fn, accepts, rejects = FIXED[name]
    input_validation.check(fn, accepts=accepts, rejects=rejects, seed=seed)
"""


def test_every_defect_is_found_shrunk_and_every_twin_passes_on_10_seeds(pytester: pytest.Pytester,
                                                                        hypothesis_profile: Any) -> None:
    hypothesis_profile(derandomize=False)  # the buggy tests draw and print their own seed
    seeds = [random.SystemRandom().randrange(2**32) for _ in range(10)]
    validation_examples(pytester, seeds)
    result = pytester.runpytest_inprocess("--backend-gates", "-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == len(BUGGY), (seeds, result.stdout.str()[-6000:])
    assert outcomes.get("passed") == len(FIXED) * 10, (seeds, result.stdout.str()[-6000:])
    for name, lines in FOUND.items():
        section = result.stdout.str().split(f"test_buggy[{name}]", 1)[1].split("\n_____", 1)[0]
        assert "shrunk" in section, (name, section)
        pytest.LineMatcher(section.splitlines()).fnmatch_lines([f"*{line}" for line in lines])
    validation = gate(read_report(pytester), "validation")
    assert validation["status"] == "failed"
    assert validation["measured"]["tests"] == len(BUGGY) + len(FIXED) * 10
    assert sorted(v["where"] for v in validation["violations"]) == sorted(
        f"test_examples.py::test_buggy[{name}]" for name in BUGGY)
    stay = next(v for v in validation["violations"] if v["where"].endswith("[stay]"))
    assert stay["check"] == "valid-rejected" and stay["details"]["input"].startswith("{'check_in': '9999-12-")
    assert stay["reproduce"].startswith("pytest 'test_examples.py::test_buggy[stay]' --hypothesis-seed=")
