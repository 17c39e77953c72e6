"""Every replay command the plugin prints runs, and selects the item it is about: each is taken
from a failing run's output and run as it is, in a subprocess."""

from __future__ import annotations

import re
import shlex
import textwrap

import pytest
from conftest import read_report

from pytest_backend_gates.gates.items import keyword

TWO_RATIOS = '''
from fastapi import FastAPI, Query

app = FastAPI()


@app.get("/ratio")
def ratio(total: int = Query(ge=0, le=1000), parts: int = Query(ge=0, le=100)) -> dict[str, float]:
    return {"ratio": total / parts}  # parts=0: a 500


@app.get("/ratio/{parts}")
def ratio_of(parts: int, total: int = Query(ge=0, le=1000)) -> dict[str, float]:
    if parts < 0 or parts > 100:
        parts = 1
    return {"ratio": total / parts}  # parts=0: a 500
'''


def run_printed(pytester: pytest.Pytester, command: str) -> pytest.RunResult:
    words = shlex.split(command)
    assert words[0] == "pytest", command
    return pytester.runpytest_subprocess(*words[1:], "-p", "no:cacheprovider", "-rf")


def test_the_contract_replay_command_runs_and_selects_its_operation_alone(pytester: pytest.Pytester) -> None:
    # It was `-k "GET /ratio"`: pytest refuses that expression (exit 4).
    pytester.makepyfile(ratioapp=TWO_RATIOS)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "ratioapp:app"
        max_examples = 30
        stateful = false
        seed = 1
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    # Each failure section prints its replay line; with CI set, pytest's short summary repeats
    # every failure message whole (it is not cut to the terminal's width), replay lines included.
    replays = list(dict.fromkeys(line.split("replay: ", 1)[1] for line in result.outlines
                                 if line.startswith("replay: ")))
    assert len(replays) == 2, result.stdout.str()
    for operation in ("GET /ratio", "GET /ratio/{parts}"):
        [command] = [c for c in replays if f'"{keyword(f"contract[{operation}]")}"' in c]
        again = run_printed(pytester, command)
        again.assert_outcomes(failed=1)  # the operation, and not the other (a prefix of it, or under it)
        again.stdout.fnmatch_lines([f"FAILED backend-gates::contract[[]{operation}[]]*"])


def test_keyword_is_an_expression_pytest_accepts() -> None:
    from _pytest.mark.expression import Expression

    for name in ("contract[GET /items/{item_id}]", "security[probe injection]", "contract[DELETE /a.b/~c@d,e]",
                 "contract[GET /x\\y$z\"]"):
        Expression.compile(keyword(name))  # raises on a syntax error
        assert re.fullmatch(r"[\w:+\-.\[\]/]+", keyword(name))


@pytest.mark.parametrize("where", [".", "tests"])
def test_the_race_replay_command_runs_from_where_pytest_ran(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    pytester.makepyprojecttoml("""
        [tool.backend-gates]
        report = "gates.json"
    """)
    tests = pytester.mkdir("tests")
    (tests / "test_counter.py").write_text(textwrap.dedent("""
        import pytest


        class Counter:
            value = 0

            def bump(self):
                seen = self.value
                self.value = seen + 1


        @pytest.mark.parametrize("start", [0, 7], ids=["from zero", "from $HOME"])
        def test_bumps_are_not_lost(race, start):
            counter = Counter()
            counter.value = start
            race.run(counter.bump, threads=8, rounds=5)
            assert counter.value == start + 40

        def test_other():
            pass
    """))
    monkeypatch.chdir(pytester.path / where)
    result = pytester.runpytest_subprocess("--backend-gates", "--backend-gates-race-seed=7", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, passed=1)
    violations = read_report(pytester)["gates"][0]["violations"]
    assert [v["where"] for v in violations] == ["tests/test_counter.py::test_bumps_are_not_lost[from zero]",
                                                "tests/test_counter.py::test_bumps_are_not_lost[from $HOME]"]
    shown = "test_counter.py" if where == "tests" else "tests/test_counter.py"  # from where it ran
    assert all(f'"{shown}::test_bumps_are_not_lost[' in v["reproduce"] or f"'{shown}::" in v["reproduce"]
               for v in violations), violations
    for violation in violations:
        again = run_printed(pytester, violation["reproduce"])
        again.assert_outcomes(failed=1)
        again.stdout.fnmatch_lines([f"FAILED *{violation['where'].split('::')[1].replace('[', '[[]')}*"])


def test_the_header_counts_gate_items_and_names_no_race_seed_without_race_tests(pytester: pytest.Pytester) -> None:
    # "collected 2 items" then "4 passed": the gate items are added after pytest counted
    pytester.makepyfile(ratioapp=TWO_RATIOS.replace("ge=0, le=100", "ge=1, le=100").replace("parts = 1", "parts = 2")
                        .replace("if parts < 0", "if parts < 1"),
                        test_unit="def test_a():\n    pass\n\n\ndef test_b():\n    pass\n")
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates.contract]
        app = "ratioapp:app"
        max_examples = 5
        stateful = false
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["collected 2 items", "backend gates: +2 gate items (contract), not in the count above"])
    assert "race: seed" not in result.stdout.str()  # no race test in this project
