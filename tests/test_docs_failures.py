"""A real failure of each gate, as the terminal prints it: docs/snippets/failures/<gate>.txt.

Each gate's page (and docs/reading-failures.md) includes its file. Here each gate runs on a
bundled example with a seeded defect (examples/<gate>), and the summary it prints (from the
`backend gates` rule to the closing `backend gates FAILED` line) must have the shape of the
pinned file: the same lines and words, numbers aside (timings, counts and ports change from run
to run; a wording, a check id or a line that changes fails the test). The project's temporary
folder is shown as /repo.

To rewrite the files on purpose (then review `git diff docs/snippets/failures/`):

    BACKEND_GATES_UPDATE_SURFACE=1 pytest tests/test_docs_failures.py
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import example_files, example_project, make_app

FAILURES = Path(__file__).resolve().parent.parent / "docs" / "snippets" / "failures"
UPDATE = os.environ.get("BACKEND_GATES_UPDATE_SURFACE") == "1"
NO_PLUGINS = ("-p", "no:cacheprovider")


def _contract(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    example_project(pytester, "contract", "bookmarks_buggy", None, "max_examples = 30\n")
    return ("--backend-gates=contract", "--backend-gates-seed=20261207")


def _security(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    monkeypatch.setenv("ORDERS_API_TOKEN", "s3cr3t-orders-token")
    example_project(pytester, "security", "orders_fastapi_buggy", None, """
        max_examples = 20
        headers = { Authorization = "Bearer ${ORDERS_API_TOKEN}" }
        [tool.backend-gates.security]
    """)
    return ("--backend-gates=contract,security", "--backend-gates-seed=20261207")


def _validation(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    example_files(pytester, "validation")
    pytester.makepyfile(test_orders="""
        from quantity import QUANTITY, parse_quantity_dollar

        def test_quantity_parser(input_validation):
            input_validation.check(parse_quantity_dollar, accepts=QUANTITY, rejects=(ValueError,), seed=1249161432)
    """)
    return ("--backend-gates=validation",)


def _latency(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    example_project(pytester, "latency", "catalog_slow", extra="""
        [tool.backend-gates.latency]
        samples = 5
        budgets = { "GET /tags" = "p95 < 30ms" }
    """)
    (pytester.path / "test_catalog_latency.py").unlink()  # the operation's budget alone
    return ("--backend-gates=latency",)


def _coverage(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    make_app(pytester, """
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.coverage]
        source = ["app"]
        total = 90
        branch = true
        branches = 75
        files = { "app/auth.py" = 100 }
    """)
    return ("--backend-gates=coverage",)


def _race(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    monkeypatch.setenv("RACE_VARIANT", "buggy")
    example_files(pytester, "race")
    return ("--backend-gates=race", "--backend-gates-race-seed=4242", "test_races.py::test_withdrawals_are_not_lost")


def _queries(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    monkeypatch.setenv("QUERIES_VARIANT", "buggy")
    example_files(pytester, "queries")
    return ("--backend-gates=queries", "test_queries.py::test_authors_endpoint_has_no_n_plus_one")


def _load(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    example_project(pytester, "load", "catalog_buggy", extra="""
        [tool.backend-gates.load]
        users = 5
        spawn_rate = 50
        duration = "3s"
        thresholds = ["failures < 1%"]
        thresholds_per_endpoint = { "GET /search" = "p95 < 100ms" }
    """)
    return ("--backend-gates=load",)


GATES: dict[str, Callable[[pytest.Pytester, pytest.MonkeyPatch], tuple[str, ...]]] = {
    "contract": _contract, "security": _security, "validation": _validation, "latency": _latency,
    "coverage": _coverage, "race": _race, "queries": _queries, "load": _load,
}


def summary(output: str, project: Path) -> str:
    """The gates' summary: from the `backend gates` rule to the `backend gates FAILED` line."""
    lines = output.replace(str(project), "/repo").splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ backend gates =+", line))
    end = next(i for i, line in enumerate(lines) if line.startswith("backend gates FAILED"))
    return "\n".join(lines[start:end + 1]) + "\n"


def shape(text: str) -> str:
    """The text without what changes from run to run: numbers, the end of a gate's line (cut to the
    terminal's width, so where it is cut moves with the numbers), and the latency gate's note on
    time taken by other processes (said only when the machine is busy)."""
    text = re.sub(r" \| worst: .*$", " | worst: ...", text, flags=re.MULTILINE)
    text = re.sub(r"; \d+% of the wall time other processes held the CPU: not counted", "", text)
    return re.sub(r"\d+(?:\.\d+)?", "#", text)


@pytest.mark.parametrize("gate_name", list(GATES))
def test_each_gate_fails_as_its_page_shows(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                           gate_name: str) -> None:
    args = GATES[gate_name](pytester, monkeypatch)
    result = pytester.runpytest_subprocess(*NO_PLUGINS, *args)
    assert result.ret == 1, result.stdout.str()
    printed = summary(result.stdout.str(), pytester.path)
    pinned = FAILURES / f"{gate_name}.txt"
    if UPDATE:
        FAILURES.mkdir(parents=True, exist_ok=True)
        pinned.write_text(printed, encoding="utf-8")
        return
    expected = pinned.read_text(encoding="utf-8")
    if shape(printed) != shape(expected):
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), printed.splitlines(keepends=True),
                                            f"docs/snippets/failures/{gate_name}.txt (pinned)", "this run"))
        pytest.fail(f"{gate_name}: the failure the docs show changed (numbers aside):\n{diff}\n"
                    "(if on purpose: BACKEND_GATES_UPDATE_SURFACE=1)", pytrace=False)
