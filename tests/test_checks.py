"""The one table of check ids (pytest_backend_gates/checks.py) holds every id a gate can report.

Literal ids are collected from the source (every `Violation(check=...)`, and the helpers that
carry an id into one: the race probe's `_violation`, the queries gate's `Problem`, the
security rules' `RuleFinding`); an id computed at run time is allowed only at the sites listed
in DYNAMIC, each with the table its ids come from, and those ids must be in the table too. A
new `check=` site, or a new id, therefore fails here until it is described.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from pytest_backend_gates import checks
from pytest_backend_gates.budget import parse_budget
from pytest_backend_gates.gates import registry
from pytest_backend_gates.security_rules import RULE_IDS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_backend_gates"
SCANNED = ("gates", "acceptance")

# callable name -> (position of the check id, its keyword)
CARRIERS = {"Violation": (1, "check"), "_violation": (1, "check"), "Problem": (0, "check"),
            "RuleFinding": (0, "rule")}


def _validation_kinds() -> set[str]:
    from pytest_backend_gates.gates.validation import endpoint  # noqa: F401 - defines its kinds
    from pytest_backend_gates.gates.validation.outcome import InputViolation

    found: set[str] = set()
    todo = list(InputViolation.__subclasses__())
    while todo:
        cls = todo.pop()
        found.add(cls.kind)
        todo.extend(cls.__subclasses__())
    return found


def _load_metric_ids() -> set[str]:
    # every kind of metric a load threshold can name (budget.py), through its public parser
    budgets = ("min < 1s", "max < 1s", "mean < 1s", "median < 1s", "p95 < 1s", "p99.9 < 1s", "rps > 1",
               "failures < 1%")
    return {f"load-{parse_budget(text).metric}" for text in budgets}


def _test_attributed_ids() -> set[str]:
    from pytest_backend_gates.gates.test_attributed import TestAttributedGate

    specs = [spec for spec in registry.BUILTIN if spec.fed_by_tests]
    assert all(issubclass(spec.gate_class(), TestAttributedGate) for spec in specs)
    return {f"{spec.name}-test" for spec in specs}


# "file:expression" of each site whose id is computed -> where its ids come from
DYNAMIC: dict[str, Callable[[], Iterable[str]]] = {
    "gates/race/auto_client.py:check": lambda: set(),  # the parameter of _violation: its callers' literals
    "gates/race/gate.py:**v": lambda: set(),  # the auto probe's _violation dicts, rebuilt
    "gates/contract/evaluate.py:**v": checks.contract_check_ids,  # schemathesis' check names
    "gates/contract/gate.py:**v": checks.contract_check_ids,  # the same, judged per item
    "gates/race/auto.py:**v": lambda: set(),  # the auto probe's _violation dicts, judged per item
    "gates/security/probe_item.py:f['rule']": lambda: RULE_IDS,
    "gates/load/verdict.py:f'load-{budget.metric}'": _load_metric_ids,
    "gates/validation/gate.py:first['kind']": _validation_kinds,
    "gates/security/gate.py:finding['rule']": lambda: RULE_IDS,
    "gates/security/jwt_probe.py:rule": lambda: RULE_IDS,
    "gates/security/authz.py:rule": lambda: RULE_IDS,
    "gates/queries/gate.py:_check(problems)": lambda: set(),  # Problem(...) literals
    "gates/coverage/diff.py:CHECK": lambda: {"coverage-diff"},
    "gates/coverage/diff.py:overall": lambda: set(),  # a local _violation(file, overall, ...): its id is CHECK
    "gates/queries/per_request.py:entry['check']": lambda: set(),  # same
    "gates/test_attributed.py:f'{self.name}-test'": _test_attributed_ids,
    "gates/test_attributed.py:v['check']": lambda: set(),  # a worker's violations, passed on
}


def scan(package: Path) -> list[tuple[str, ast.expr | None, str]]:
    """(file relative to the package, the id's expression or None for `**v`, the site key) per site."""
    sites: list[tuple[str, ast.expr | None, str]] = []
    for folder in SCANNED:
        for path in sorted((package / folder).rglob("*.py")):
            relative = path.relative_to(package).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name not in CARRIERS:
                    continue
                position, keyword = CARRIERS[name]
                expr = next((kw.value for kw in node.keywords if kw.arg == keyword), None)
                if expr is None and len(node.args) > position:
                    expr = node.args[position]
                if expr is None:
                    unpacked = [kw.value for kw in node.keywords if kw.arg is None]
                    if not unpacked:
                        continue  # a dataclass field declaration, not a call that reports
                    sites.append((relative, None, f"{relative}:**{ast.unparse(unpacked[0])}"))
                    continue
                sites.append((relative, expr, f"{relative}:{ast.unparse(expr)}"))
    return sites


def literal_ids(sites: list[tuple[str, ast.expr | None, str]]) -> list[tuple[str, str]]:
    return [(file, expr.value) for file, expr, _ in sites
            if isinstance(expr, ast.Constant) and isinstance(expr.value, str)]


def problems(package: Path, table: Callable[[str], checks.Check]) -> list[str]:
    """What is wrong with the table for the source under `package` (empty: complete)."""
    found = []
    sites = scan(package)
    for file, check_id in literal_ids(sites):
        entry = table(check_id)
        gate = file.split("/")[1] if file.startswith("gates/") and file.count("/") > 1 else None
        if not entry.described:
            found.append(f"{file}: check id {check_id!r} is not in pytest_backend_gates/checks.py")
        elif gate is not None and entry.gate != gate:
            found.append(f"{file}: check id {check_id!r} is the {entry.gate} gate's in checks.py, not {gate}'s")
    for file, expr, key in sites:
        if isinstance(expr, ast.Constant):
            continue
        if key not in DYNAMIC:
            found.append(f"{key}: a check id computed at run time; add the site to DYNAMIC in "
                         "tests/test_checks.py with the table its ids come from")
    return found


def test_every_check_id_in_the_source_is_in_the_table() -> None:
    assert problems(PACKAGE, lambda check_id: checks.lookup(check_id)) == []


def test_every_id_computed_at_run_time_is_in_the_table() -> None:
    missing = {key: sorted(i for i in ids() if not checks.lookup(i).described)
               for key, ids in DYNAMIC.items()}
    assert {key: ids for key, ids in missing.items() if ids} == {}
    sites = {key for _, _, key in scan(PACKAGE)}
    assert set(DYNAMIC) <= sites, f"DYNAMIC names sites that are gone: {sorted(set(DYNAMIC) - sites)}"


def test_the_scan_catches_an_undescribed_id_and_an_unlisted_dynamic_site(tmp_path: Path) -> None:
    """The two ways the table goes stale, on a copy of one gate module with a line added."""
    gate_dir = tmp_path / "gates" / "coverage"
    gate_dir.mkdir(parents=True)
    (tmp_path / "acceptance").mkdir()
    (gate_dir / "extra.py").write_text(
        "Violation(where='total', check='coverage-new-thing', message='m')\n"
        "Violation(where='total', check=computed(), message='m')\n"
        "Violation(where='total', check='n-plus-one', message='m')\n")
    found = problems(tmp_path, lambda check_id: checks.lookup(check_id))
    assert found == [
        "gates/coverage/extra.py: check id 'coverage-new-thing' is not in pytest_backend_gates/checks.py",
        "gates/coverage/extra.py: check id 'n-plus-one' is the queries gate's in checks.py, not coverage's",
        "gates/coverage/extra.py:computed(): a check id computed at run time; add the site to DYNAMIC in "
        "tests/test_checks.py with the table its ids come from",
    ]


def test_every_entry_is_reported_by_some_gate() -> None:
    """No stale rows: each id of the table is a literal in the source or comes from a DYNAMIC table."""
    emitted = {check_id for _, check_id in literal_ids(scan(PACKAGE))}
    for ids in DYNAMIC.values():
        emitted |= set(ids())
    assert sorted(set(checks.CHECKS) - emitted) == []


def test_security_entries_are_the_rule_table() -> None:
    security = {c.id: c for c in checks.CHECKS.values() if c.gate == "security"}
    assert tuple(security) == RULE_IDS
    assert set(checks._SECURITY_TEXT) == set(RULE_IDS)
    assert security["bola"].owasp == "API1:2023 Broken Object Level Authorization"
    assert security["bola"].tags == ("security", "owasp:API1:2023")
    assert checks.CHECKS["ignored_auth"].tags == ("contract", "security", "owasp:API2:2023")
    assert checks.CHECKS["coverage-total"].tags == ("coverage",)


@pytest.mark.parametrize("check_id", sorted(checks.CHECKS))
def test_each_entry_is_complete(check_id: str) -> None:
    entry = checks.CHECKS[check_id]
    assert entry.id == check_id and entry.described
    assert entry.gate in registry.GATE_NAMES
    assert entry.title and "\n" not in entry.title and len(entry.title) <= 80
    assert len(entry.help) >= 40 and entry.help.endswith(".")
    assert entry.severity in checks.SEVERITIES
    if entry.owasp is not None:
        assert entry.security and entry.owasp_id is not None
        assert entry.owasp_id.startswith("API") and entry.owasp_id.endswith(":2023")


def test_schemathesis_checks_come_from_its_registry() -> None:
    names = set(checks.contract_check_ids()) - {"require_success"}
    assert "not_a_server_error" in names and "response_schema_conformance" in names
    # described here: names schemathesis has (a renamed check would leave a stale description)
    assert set(checks._SCHEMATHESIS_TEXT) <= names
    for name in names:
        assert checks.lookup(name, "contract").gate == "contract"


def test_the_docs_table_is_the_table() -> None:
    """docs/ci-outputs.md lists every check id with its gate, severity, OWASP category and title."""
    page = (ROOT / "docs" / "ci-outputs.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| (\w+) \| (\w+) \| ([^|]*) \| ([^|]+) \|$", page, flags=re.MULTILINE)
    documented = {check_id: (gate, severity, owasp.strip() or None, title.strip())
                  for check_id, gate, severity, owasp, title in rows}
    assert len(documented) == len(rows), "an id is listed twice"
    assert documented == {c.id: (c.gate, c.severity, c.owasp, c.title) for c in checks.CHECKS.values()}


def test_an_undescribed_id_still_gets_an_entry() -> None:
    unknown = checks.lookup("slow-test", "slowtests")
    assert not unknown.described and unknown.gate == "slowtests" and "slowtests" in unknown.help
    assert checks.lookup("load-p99.9").gate == "load" and checks.lookup("load-p99.9").described
    assert checks.lookup("my_custom_check", "contract").gate == "contract"
