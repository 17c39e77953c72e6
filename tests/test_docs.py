"""The docs are the user's contract: every page they link exists (and every anchor), and the
statuses and gate names docs/report.md documents are exactly the ones the code has."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest

from pytest_backend_gates.gates import registry
from pytest_backend_gates.gates.registry import GATE_NAMES
from pytest_backend_gates.result import Status

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where `[x](y)` is not a link."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as '-', repeats numbered."""
    anchors: set[str] = set()
    text = re.sub(r"^(```|~~~).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def _relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(page.read_text(encoding="utf-8")))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: are not files


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file or directory")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_pages_have_links_to_check() -> None:
    # The parser must find the README's documentation list, or the test above checks nothing.
    assert "docs/report.md" in _relative_links(ROOT / "README.md")


def test_the_readme_lists_every_docs_page() -> None:
    documentation = _section((ROOT / "README.md").read_text(encoding="utf-8"), "## Documentation")
    listed = {target.partition("#")[0] for target in LINK.findall(documentation)}
    missing = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md"))
               if p.relative_to(ROOT).as_posix() not in listed]
    assert not missing, f"README.md's documentation list omits {missing}"


def test_no_page_cites_a_file_outside_the_repository() -> None:
    # The docs are the contract; a document users do not have (SPEC.md) cannot be part of it.
    citing = [p.relative_to(ROOT).as_posix() for p in PAGES if "SPEC" in p.read_text(encoding="utf-8")]
    assert not citing


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^#{1,3} ", text[start + len(heading):], flags=re.MULTILINE)
    return text[start:start + len(heading) + following.start()] if following else text[start:]


REPORT = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")


def test_documented_statuses_are_the_codes_statuses() -> None:
    table = _section(REPORT, "### Statuses")
    rows = re.findall(r"^\| `([a-z]+)` \|[^|]*\|([^|]*)\|", table, flags=re.MULTILINE)
    assert [status for status, _ in rows] == [status.value for status in Status]
    # A status some gate reports is not documented as unused ("reserved", "no gate reports it").
    sources = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "pytest_backend_gates").rglob("*.py"))
    for status, when in rows:
        if f"Status.{status.upper()}" in sources:
            assert not re.search(r"reserved|no gate", when), f"{status}: {when.strip()}"
    entry_row = next(line for line in _section(REPORT, "### Gate entry").splitlines() if line.startswith("| `status`"))
    assert re.findall(r"`([a-z]+)`", entry_row.split("|")[3]) == [status.value for status in Status]


def test_documented_gate_names_are_the_codes_gate_names() -> None:
    gates_row = next(line for line in _section(REPORT, "### Top level").splitlines() if line.startswith("| `gates`"))
    documented = re.findall(r"`([a-z]+)`", gates_row.split("Built-in gates come in the order", 1)[1])
    assert documented == list(GATE_NAMES)  # the report's order too
    assert set(registry.BY_NAME) == set(GATE_NAMES)


# --------------------------------------------------------------------------
# The site's code blocks: a command or a configuration is taken from a file a test runs
# --------------------------------------------------------------------------

SITE_PAGES = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                   flags=re.DOTALL | re.MULTILINE)
INCLUDE = re.compile(r'^[ \t]*--8<--[ \t]+"(?P<path>[^"]+)"[ \t]*$', flags=re.MULTILINE)
# A command or a configuration: written in the page, it could only look right.
COMMAND_OR_CONFIG = {"toml", "yaml", "yml", "ini", "cfg", "bash", "sh", "shell", "console", "python", "py", "pycon"}
# What a run prints or writes (terminal text, a report). Such a block may be written in the page,
# but one that starts like a command or a configuration is refused (no way around the rule above).
OUTPUT = {"text", "json"}
LOOKS_LIKE_INPUT = re.compile(r"^(\$ |pytest |pip |python3? |\.venv/|\[tool\.[^\]]*\]\s*(#.*)?$|- uses:|name: |on:)")

# Blocks of a command or configuration kind that may stay in the page, with why: (page, first line).
WRITTEN_IN_THE_PAGE: dict[tuple[str, str], str] = {
    ("contract.md", ".venv/bin/python benchmarks/contract_throughput.py --stack examples/stacks/fastapi_sqlmodel "
                    "--env STACK_BCRYPT_ROUNDS=4"): "a benchmark's command: python3 dev.py bench runs benchmarks/",
    ("race.md", ".venv/bin/python benchmarks/race_detection.py --stacks --runs 10 --before a339ebf              "
                "# race gate only"): "a benchmark's command: python3 dev.py bench runs benchmarks/",
    ("load.md", "uvicorn catalog_fixed:app --app-dir .. --port 8000                           # 1: the service"):
        "four terminals: tests/test_load_distributed.py runs these commands (the worker's as the page writes it)",
    ("load.md", "docker compose up --build --scale worker=2 --exit-code-from gates"):
        "docker compose: the test machines have no Docker engine",
}

# Every file a page includes, and the test that runs it (or pins it, for what a run prints).
# A glob covers a folder of snippets that one test runs file by file.
TESTED_BY: dict[str, str] = {
    "docs/snippets/config/*.toml": "tests/test_docs_snippets.py::test_each_configuration_snippet_loads_as_it_is",
    "docs/snippets/auth/*.py": "tests/test_docs_snippets.py::test_the_auth_recipes_act_as_their_user",
    "docs/snippets/commands/*.sh": "tests/test_docs_snippets.py::test_each_command_runs_as_written",
    "docs/recipes/*.yml": "tests/test_ci_recipes.py::test_the_recipe_command_runs_as_written",
    "docs/snippets/validation/test_orders.py":
        "tests/test_docs_snippets.py::test_the_validation_page_tests_pass_on_the_examples",
    "docs/snippets/race/test_wallet.py": "tests/test_race_gate.py::test_http_races_through_the_api_fixture",
    "docs/snippets/failures/*.txt": "tests/test_docs_failures.py::test_each_gate_fails_as_its_page_shows",
    "docs/snippets/writing-gates/*": "tests/test_docs_snippets.py::test_the_third_party_gate_of_writing_gates_runs_as_shown",
    # the gates' table; its markers are pinned in tests/surface/markers.txt too
    "pytest_backend_gates/gates/registry.py": "tests/test_docs.py::test_documented_gate_names_are_the_codes_gate_names",
    "docs/snippets/getting-started/*": "tests/test_docs_snippets.py::test_getting_started_from_init_to_a_green_run",
    "examples/load/distributed/pyproject.toml":
        "tests/test_load_distributed.py::test_the_gate_as_master_judges_the_combined_stats_of_workers_started_apart",
    "examples/race/test_races.py": "tests/test_race_gate.py::test_each_seeded_race_is_found",
    "examples/queries/test_queries.py": "tests/test_queries_gate.py::test_seeded_n_plus_ones_fail_with_the_statements",
    "examples/latency/test_catalog_latency.py":
        "tests/test_latency_examples.py::test_blocking_call_in_async_handler_caught_by_marker",
    "docs/snippets/stacks/twins.sh": "tests/test_stacks.py::test_buggy_twin_shows_every_defect_with_its_cause",
    "examples/stacks/*/pyproject.toml": "tests/test_stacks.py::test_fixed_twin_passes_every_gate_with_something_measured",
    "examples/stacks/*/gates_auth.py": "tests/test_stacks.py::test_fixed_twin_passes_every_gate_with_something_measured",
}


def code_blocks(page: Path) -> list[tuple[int, str, str]]:
    """(line, language, body) of each fenced block of the page."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m["info"].strip().split(" ")[0], m["body"])
            for m in FENCE.finditer(text)]


def included_files() -> dict[str, list[str]]:
    """Each file the site's pages include (`--8<-- "path"`, a `:section` dropped) -> where."""
    found: dict[str, list[str]] = {}
    for page in SITE_PAGES:
        for line, _, body in code_blocks(page):
            for m in INCLUDE.finditer(body):
                found.setdefault(m["path"].split(":", 1)[0], []).append(f"docs/{page.name}:{line}")
    return found


def _tested_by(path: str) -> str | None:
    return next((test for pattern, test in TESTED_BY.items() if fnmatch.fnmatch(path, pattern)), None)


@pytest.mark.parametrize("page", SITE_PAGES, ids=[p.name for p in SITE_PAGES])
def test_every_command_or_configuration_block_is_included_from_a_file(page: Path) -> None:
    problems = []
    for line, language, body in code_blocks(page):
        where = f"docs/{page.name}:{line}"
        first = next((text.strip() for text in body.splitlines() if text.strip()), "")
        if language not in COMMAND_OR_CONFIG | OUTPUT:
            problems.append(f"{where}: a code block of language {language or '(none)'!r}; name it: "
                            f"{sorted(COMMAND_OR_CONFIG)} (included from a file) or {sorted(OUTPUT)}")
        elif language in COMMAND_OR_CONFIG:
            written = [text for text in body.splitlines() if text.strip() and not INCLUDE.match(text)]
            if written and (page.name, first) not in WRITTEN_IN_THE_PAGE:
                problems.append(f"{where}: a {language} block written in the page ({first!r}); include it "
                                f'from a file a test runs: --8<-- "path"')
        elif LOOKS_LIKE_INPUT.match(first) and not INCLUDE.match(first):
            problems.append(f"{where}: a {language} block that starts like a command or a configuration "
                            f"({first!r}): include it from a file a test runs")
    assert not problems, "\n".join(problems)


def test_the_allowed_inline_blocks_are_still_there() -> None:
    firsts = {(page.name, next((t.strip() for t in body.splitlines() if t.strip()), ""))
              for page in SITE_PAGES for _, _, body in code_blocks(page)}
    assert not set(WRITTEN_IN_THE_PAGE) - firsts, "stale entries in WRITTEN_IN_THE_PAGE"


def test_every_included_file_exists_and_a_test_runs_it() -> None:
    problems = []
    for path, where in sorted(included_files().items()):
        test = _tested_by(path)
        if not (ROOT / path).is_file():
            problems.append(f"{path} (included at {', '.join(where)}): no such file")
        elif test is None:
            problems.append(f"{path} (included at {', '.join(where)}) is not in TESTED_BY: which test runs it?")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pattern", sorted(TESTED_BY))
def test_each_mapped_test_exists_and_names_its_file(pattern: str) -> None:
    """The test named for a file exists, and its module names the file (or the folder of a glob)."""
    module, _, function = TESTED_BY[pattern].partition("::")
    source = (ROOT / module).read_text(encoding="utf-8")
    defined = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
    assert function in defined, f"{TESTED_BY[pattern]}: no such test"
    parts = pattern.split("/")
    named = "/".join(parts[:next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), len(parts))])
    assert named in source or Path(named).name in source, f"{module} never names {named}"
    assert any(fnmatch.fnmatch(path, pattern) for path in included_files()), f"no page includes {pattern}"
