"""Coverage of changed lines (`[tool.backend-gates.coverage] diff = { against, min }`) end to end:
each project is a temporary git repository with a base commit, a ref to diff against and a
change; pytest runs in a subprocess (coverage.py traces the whole process)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import gate, read_report

from pytest_backend_gates.gates.coverage.changed_lines import parse_patch

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

DIFF_90 = """
[tool.backend-gates]
report = "gates.json"

[tool.backend-gates.coverage]
source = ["app"]
diff = { against = "origin/main", min = 90 }
"""

ORDERS = '''\
def total(items):
    return sum(items)
'''

# Never tested, never changed: its low coverage is not the change's to answer for.
LEGACY = '''\
def old(flag):
    if flag:
        return 1
    return 2
'''

TESTS = '''\
from app import orders


def test_total():
    assert orders.total([1, 2]) == 3
'''

# The change: refund() (lines 5-9 of orders.py), tested only when TEST_REFUND is added.
REFUND = '''

def refund(items, rate):
    if rate < 0:
        raise ValueError("negative rate")
    kept = [item * (1 - rate) for item in items]
    return sum(kept)
'''

TEST_REFUND = '''

def test_refund():
    assert orders.refund([10], 0.5) == 5
    import pytest
    with pytest.raises(ValueError):
        orders.refund([10], -1)
'''


def git(cwd: Path, *args: str) -> str:
    """git with a fixed identity and no system or user configuration (HOME is pytester's)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def base_project(path: Path, toml: str = DIFF_90) -> None:
    """A repository on branch `feature`, forked from `main` (also origin/main) at a commit with a
    tested orders.py and an untested legacy.py; nothing changed yet."""
    (path / "pyproject.toml").write_text(textwrap.dedent(toml))
    (path / "app").mkdir()
    (path / "app" / "__init__.py").write_text("")
    (path / "app" / "orders.py").write_text(ORDERS)
    (path / "app" / "legacy.py").write_text(LEGACY)
    (path / "test_app.py").write_text(TESTS)
    (path / ".gitignore").write_text("__pycache__/\ngates.json\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "base")
    git(path, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(path, "checkout", "-qb", "feature")


def commit_refund(path: Path, tested: bool) -> None:
    (path / "app" / "orders.py").write_text(ORDERS + REFUND)
    if tested:
        (path / "test_app.py").write_text(TESTS + TEST_REFUND)
    git(path, "commit", "-qam", "refund")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, "--backend-gates")


def test_untested_changed_lines_fail_naming_them(pytester: pytest.Pytester) -> None:
    base_project(pytester.path)
    commit_refund(pytester.path, tested=False)
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "coverage  FAILED  total *, changed lines 20.00% (1 of 5 against origin/main, min 90%)*",
        "app/orders.py [[]coverage-diff[]]: changed lines 6-9 not covered (1 of 5 changed statements "
        "in this file covered); changed lines against origin/main are 20.00% covered, under the minimum 90% "
        "(1 of 5 changed statements covered)",
    ])
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "failed"
    (violation,) = coverage["violations"]  # legacy.py: 0% covered, unchanged, not named
    assert violation["check"] == "coverage-diff"
    assert (violation["where"], violation["file"], violation["line"]) == ("app/orders.py", "app/orders.py", 6)
    assert violation["details"]["uncovered_lines"] == [6, 7, 8, 9]
    assert violation["message"].startswith("changed lines 6-9 not covered")  # the file is in `where` and `file`
    diff = coverage["measured"]["diff"]
    assert diff["base"] == git(pytester.path, "rev-parse", "origin/main").strip()
    assert (diff["against"], diff["changed_lines"], diff["covered_lines"], diff["percent"]) == (
        "origin/main", 5, 1, 20.0)
    # line 5 (def refund) ran at import; the blank lines 3-4 are no statements; test_app.py is not measured
    assert diff["files"] == [{"path": "app/orders.py", "changed_lines": 5, "covered_lines": 1,
                              "uncovered_lines": [6, 7, 8, 9]}]
    assert coverage["threshold"] == {"diff_min": 90}
    assert coverage["warnings"] == []  # diff.min is a minimum: no "no minimum is set"


def test_without_min_the_changed_lines_are_reported_not_enforced(pytester: pytest.Pytester) -> None:
    base_project(pytester.path, DIFF_90.replace(", min = 90", ""))
    commit_refund(pytester.path, tested=False)
    assert run(pytester).ret == 0
    coverage = gate(read_report(pytester), "coverage")
    assert (coverage["status"], coverage["violations"], coverage["threshold"]) == ("passed", [], {})
    assert coverage["measured"]["diff"]["percent"] == 20.0
    assert "changed lines 20.00% (1 of 5 against origin/main)" in coverage["summary"]
    assert coverage["warnings"] == ["no minimum is set (total, branches, files or diff.min): coverage is reported, "
                                    "nothing is enforced"]


def test_the_same_change_tested_passes_though_unchanged_code_is_uncovered(pytester: pytest.Pytester) -> None:
    base_project(pytester.path)
    commit_refund(pytester.path, tested=True)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    assert result.ret == 0, result.stdout.str()
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "passed", coverage
    assert coverage["measured"]["total"] < 90  # legacy.py: 1 of 4 statements (its def line)
    assert coverage["measured"]["diff"]["percent"] == 100.0
    assert coverage["measured"]["diff"]["changed_lines"] == 5
    assert "changed lines 100.00% (5 of 5 against origin/main, min 90%)" in coverage["summary"]


def test_changed_lines_are_counted_from_the_merge_base_with_uncommitted_and_untracked_files(
        pytester: pytest.Pytester) -> None:
    path = pytester.path
    base_project(path)
    commit_refund(path, tested=True)
    # main moves on after the fork: a diff straight against origin/main would show the feature's
    # older legacy.py line as added here, and uncovered
    git(path, "checkout", "-q", "main")
    (path / "app" / "legacy.py").write_text(LEGACY.replace("return 2", "return 3"))
    git(path, "commit", "-qam", "main moves on")
    git(path, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(path, "checkout", "-q", "feature")
    # not committed yet: a modified tracked file and a new untracked module (a non-Python file is no code)
    (path / "app" / "orders.py").write_text(ORDERS + REFUND + "\n\ndef extra():\n    return 5\n")
    (path / "app" / "brand_new.py").write_text("def brand_new():\n    return 1\n")
    (path / "app" / "notes.txt").write_text("not code\n")
    result = run(pytester)
    assert result.ret == 1
    coverage = gate(read_report(pytester), "coverage")
    by_file = {f["path"]: f for f in coverage["measured"]["diff"]["files"]}
    assert sorted(by_file) == ["app/brand_new.py", "app/orders.py"]
    assert by_file["app/orders.py"]["uncovered_lines"] == [13]  # extra()'s body; def extra ran at import
    assert by_file["app/brand_new.py"]["uncovered_lines"] == [1, 2]  # never imported: coverage.py's `source`
    assert coverage["measured"]["diff"]["base"] != git(path, "rev-parse", "origin/main").strip()
    assert {v["where"] for v in coverage["violations"]} == {"app/brand_new.py", "app/orders.py"}


def test_no_changed_statement_is_not_judged_and_the_rest_of_the_gate_still_is(pytester: pytest.Pytester) -> None:
    base_project(pytester.path, DIFF_90.replace('source = ["app"]', 'source = ["app"]\ntotal = 90'))
    # a comment, a test and a renamed module: no changed statement
    (pytester.path / "app" / "orders.py").write_text("# orders\n" + ORDERS)
    (pytester.path / "test_app.py").write_text(TESTS + "\n\ndef test_more():\n    assert orders.total([]) == 0\n")
    git(pytester.path, "mv", "app/legacy.py", "app/legacy_v1.py")
    git(pytester.path, "commit", "-qam", "comment and rename")
    result = run(pytester)
    assert result.ret == 1
    coverage = gate(read_report(pytester), "coverage")
    assert [v["check"] for v in coverage["violations"]] == ["coverage-total"]  # legacy: total under 90
    assert "no changed executable lines against origin/main" in coverage["summary"]
    diff = coverage["measured"]["diff"]
    assert (diff["changed_lines"], diff["percent"], diff["files"]) == (0, None, [])


def test_a_missing_ref_is_an_error_saying_what_to_fetch(pytester: pytest.Pytester) -> None:
    base_project(pytester.path, DIFF_90.replace("origin/main", "origin/develop"))
    git(pytester.path, "remote", "add", "origin", "https://git.invalid/shop.git")  # never contacted
    commit_refund(pytester.path, tested=True)
    result = run(pytester)
    assert result.ret == 1
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "error"
    assert coverage["summary"] == (
        "coverage of changed lines: diff.against: the git ref 'origin/develop' does not exist in this clone, so the "
        "changed lines cannot be found; fetch it before the tests: `git fetch origin develop`; in GitHub Actions: "
        "actions/checkout with `fetch-depth: 0`; in GitLab CI: `GIT_DEPTH: 0` (the gate never fetches)")
    assert coverage["measured"]["total"] > 0  # the figures measured are kept
    result.stdout.fnmatch_lines(["coverage  ERROR   coverage of changed lines: diff.against: the git ref "
                                 "'origin/develop' does not exist*"])


def test_a_shallow_clone_without_the_fork_point_is_an_error_asking_for_the_history(
        pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    base_project(origin, DIFF_90)
    commit_refund(origin, tested=True)
    (origin / "app" / "orders.py").write_text(ORDERS + REFUND + "\n# one more commit on the branch\n")
    git(origin, "commit", "-qam", "second")
    clone = pytester.path / "clone"
    # every branch, one commit deep: origin/main exists, the fork point two commits back does not
    git(pytester.path, "clone", "-q", "--depth", "1", "--no-single-branch", "--branch", "feature",
        origin.as_uri(), str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    monkeypatch.chdir(clone)
    result = run(pytester)
    assert result.ret == 1, result.stdout.str()
    coverage = gate(read_report(pytester, "clone/gates.json"), "coverage")
    assert coverage["status"] == "error"
    assert coverage["summary"] == (
        "coverage of changed lines: this clone is shallow and its history does not reach the commit where HEAD "
        "forked from 'origin/main' (git merge-base found none), so the changed lines cannot be found; fetch the "
        "whole history: in GitHub Actions: actions/checkout with `fetch-depth: 0`; in GitLab CI: `GIT_DEPTH: 0`; "
        "locally `git fetch --unshallow`")


def test_outside_a_git_repository_or_without_git_the_error_says_so(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyprojecttoml(textwrap.dedent(DIFF_90))
    pytester.mkpydir("app")
    (pytester.path / "app" / "orders.py").write_text(ORDERS)
    (pytester.path / "test_app.py").write_text(TESTS)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(pytester.path.parent))  # no repository above it either
    assert run(pytester).ret == 1
    summary = gate(read_report(pytester), "coverage")["summary"]
    assert summary.startswith("coverage of changed lines: the project is not in a git repository, so there are "
                              "no changed lines to judge; run the tests in a git checkout"), summary
    no_git = pytester.mkdir("empty-bin")
    monkeypatch.setenv("PATH", str(no_git))
    assert run(pytester).ret == 1
    assert gate(read_report(pytester), "coverage")["summary"] == (
        "coverage of changed lines: git was not found (PATH), so the lines changed against 'origin/main' cannot be "
        "found; install git where the tests run, or remove `diff` from [tool.backend-gates.coverage]")


def test_a_partial_run_judges_no_changed_line_and_keeps_a_git_problem_as_a_warning(
        pytester: pytest.Pytester) -> None:
    base_project(pytester.path)
    commit_refund(pytester.path, tested=False)
    result = run(pytester, "-k", "nothing_matches_this")
    assert result.ret == 5  # no test ran: pytest's own status, the gate did not fail the run
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "skipped" and coverage["violations"] == []
    assert coverage["measured"]["diff"]["changed_lines"] == 5  # measured, not enforced
    (pytester.path / "pyproject.toml").write_text(textwrap.dedent(DIFF_90.replace("origin/main", "origin/nope")))
    result = run(pytester, "test_app.py::test_total")  # a node id: part of the rootdir's tests
    assert result.ret == 0, result.stdout.str()
    coverage = gate(read_report(pytester), "coverage")
    assert coverage["status"] == "skipped"
    assert any(w.startswith("on a whole run this would be an error: coverage of changed lines: diff.against: the "
                            "git ref 'origin/nope' does not exist") for w in coverage["warnings"]), coverage


@pytest.mark.parametrize("diff, error", [
    ("5", "diff: 5 is not a table; expected e.g. diff = { against = \"origin/main\", min = 90 }"),
    ('{ against = "origin/main", min = 120 }',
     "diff.min: 120 is out of range; expected a percentage from 0 to 100 (a number, without '%')"),
    ('{ against = "origin/main", mini = 90 }',
     "diff.mini: unknown key; did you mean 'min'? allowed keys in diff: against, min, e.g. diff = "
     "{ against = \"origin/main\", min = 90 }"),
    ('{ against = "", min = 90 }',
     "diff.against: '' is empty; expected a git ref such as 'origin/main' (a branch, tag or commit)"),
    ('{ min = 90 }', "diff.against: missing; expected a git ref such as 'origin/main' (a branch, tag or commit), "
                     "e.g. diff = { against = \"origin/main\", min = 90 }"),
    ('{ against = "--output=/tmp/x" }',
     "diff.against: '--output=/tmp/x' is not a git ref; expected a git ref such as 'origin/main' (a branch, tag "
     "or commit)"),
])
def test_a_bad_diff_setting_is_one_clear_error(pytester: pytest.Pytester, diff: str, error: str) -> None:
    pytester.makepyprojecttoml(f"[tool.backend-gates.coverage]\ndiff = {diff}\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--backend-gates")  # stops before any import
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines == [f"ERROR: backend-gates configuration: [tool.backend-gates.coverage] {error}", ""] \
        or result.stderr.lines == [f"ERROR: backend-gates configuration: [tool.backend-gates.coverage] {error}"], \
        result.stderr.str()
    assert "Traceback" not in result.stdout.str()


def test_the_patch_parser_reads_renames_deletions_quoted_names_and_header_like_lines() -> None:
    patch = textwrap.dedent('''\
        diff --git a/app/old.py b/app/new.py
        similarity index 90%
        rename from app/old.py
        rename to app/new.py
        --- a/app/old.py
        +++ b/app/new.py
        @@ -3,0 +4,2 @@ def f():
        +++ b/not/a/header.py
        +x = 1
        @@ -10 +12 @@
        -a
        +b
        @@ -20,2 +22,0 @@
        -gone
        -gone
        diff --git a/app/dead.py b/app/dead.py
        deleted file mode 100644
        --- a/app/dead.py
        +++ /dev/null
        @@ -1,2 +0,0 @@
        -x
        -y
        diff --git "a/app/we\\"ird \\303\\251.py" "b/app/we\\"ird \\303\\251.py"
        --- "a/app/we\\"ird \\303\\251.py"
        +++ "b/app/we\\"ird \\303\\251.py"\t
        @@ -1 +1 @@
        -a
        +b
        diff --git a/app/sp ace.py b/app/sp ace.py
        --- a/app/sp ace.py\t
        +++ b/app/sp ace.py\t
        @@ -0,0 +1,3 @@
        +a
        +b
        +c
    ''')
    assert parse_patch(patch) == {"app/new.py": {4, 5, 12}, 'app/we"ird é.py': {1}, "app/sp ace.py": {1, 2, 3}}


def test_a_baselined_file_accepts_its_uncovered_lines_wherever_they_move_not_a_later_change(
        pytester: pytest.Pytester) -> None:
    base_project(pytester.path, DIFF_90.replace('report = "gates.json"',
                                                'report = "gates.json"\nbaseline = "baseline.json"'))
    commit_refund(pytester.path, tested=False)
    assert run(pytester, "--backend-gates-update-baseline").ret == 0
    orders = pytester.path / "app" / "orders.py"
    # a tested line above: refund's uncovered lines move down by one, and are still the accepted ones
    orders.write_text("LIMIT = 5\n" + orders.read_text())
    assert run(pytester).ret == 0
    (violation,) = gate(read_report(pytester), "coverage")["violations"]
    assert violation["accepted"] is True and violation["details"]["uncovered_lines"] == [7, 8, 9, 10]
    # other uncovered code on the same lines: the same message but for its numbers, not what was accepted
    orders.write_text(orders.read_text().replace("item * (1 - rate)", "round(item * (1 - rate), 2)"))
    assert run(pytester).ret == 1
    (violation,) = gate(read_report(pytester), "coverage")["violations"]
    assert "accepted" not in violation and violation["details"]["uncovered_lines"] == [7, 8, 9, 10]
