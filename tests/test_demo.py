"""The demo (issue 16): `python3 dev.py demo` runs every gate on examples/shop and passes;
`python3 dev.py demo --broken` runs them on its broken twin (SHOP_DEFECTS=1) and every gate
catches its planted defect, and nothing else.

Both run as dev.py runs them (`python -m pytest --backend-gates --backend-gates-html=...` in the
shop's folder), in a subprocess, on a copy of examples/shop. Seeds are pinned (the contract
fuzzing, the race schedule, hypothesis) so that CI replays the same run. The staff key is a
random secret from the environment: it must appear in no output, report or HTML page.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "shop"
SEED = "20261216"
RUN_TIMEOUT = 600  # seconds: one whole gated run on a loaded 2-core machine (about 40 s alone)
GATES = ("contract", "security", "validation", "latency", "coverage", "race", "queries", "load")

# What shows that a gate exercised something in the fixed twin (a gate passing on nothing is no pass).
EXERCISED: dict[str, tuple[str, ...]] = {
    "contract": ("cases", "operations_tested"),
    "security": ("responses", "probe_requests"),
    "validation": ("tests", "inputs"),
    "latency": ("timings",),
    "coverage": ("total",),
    "race": ("tests", "auto_operations", "auto_raced", "auto_2xx"),
    "queries": ("tests", "statements", "requests", "request_statements"),
    "load": ("requests", "succeeded"),
}

PRICING_TEST = "tests/test_pricing.py"
# The broken twin's defects (shop/twin.py, each marked DEFECT(kind) next to its FIX(kind)):
# per gate, the (check, where) its planted defect must show as, and every other (check, where)
# that same defect may also show as. Any violation outside these lists is a failure of the test.
REQUIRED: dict[str, set[tuple[str, str]]] = {
    "contract": {("not_a_server_error", "GET /orders")},                     # offset-overflow
    "security": {("auth-ignored", "POST /items")},                           # auth-bypass
    "validation": {("invalid-accepted", f"{PRICING_TEST}::test_coupon_codes_are_exactly_the_apis")},
    "latency": {("latency-budget", f"{PRICING_TEST}::test_the_largest_order_is_priced_quickly")},  # slow-path
    "coverage": {("coverage-file", "shop/pricing.py")},                      # untested-branch
    "race": {("race-test", "tests/test_concurrency.py::test_concurrent_orders_never_oversell")},  # oversell
    "queries": {("n-plus-one", "tests/test_orders.py::test_order_history_is_one_query_whatever_the_page_size"),
                ("n-plus-one", "GET /orders")},                              # n-plus-one
    "load": {("load-failures", "all requests")},                             # health-rate-limit
}
STAFF_WRITES = ("POST /items", "PUT /items/{item_id}", "DELETE /items/{item_id}")
ALSO: dict[str, set[tuple[str, str]]] = {
    # auth-bypass, seen by schemathesis' own checks as the contract gate sends requests without the key
    "contract": {(check, where) for check in ("ignored_auth", "missing_required_header") for where in STAFF_WRITES},
    "security": {("auth-ignored", where) for where in STAFF_WRITES},
    # slow-path, through the endpoint as well (its operation budget; a much faster machine may meet it)
    "latency": {("latency-budget", "GET /items/{item_id}/quote")},
}
# Where each defect is caught, as the violation's message says it (a word of the cause).
MESSAGES: dict[tuple[str, str], str] = {
    ("not_a_server_error", "GET /orders"): "OverflowError",
    ("invalid-accepted", f"{PRICING_TEST}::test_coupon_codes_are_exactly_the_apis"): "invalid input accepted",
    ("coverage-file", "shop/pricing.py"): "missing lines",
    ("race-test", "tests/test_concurrency.py::test_concurrent_orders_never_oversell"): "units in stock",
    ("n-plus-one", "GET /orders"): "SELECT name FROM items WHERE id = ?",
    ("load-failures", "all requests"): "GET /health: 429",
}


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name in ("__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks",
                                                 ".backend-gates") or name.endswith(".egg-info")
            or name.startswith((".coverage", "backend-gates."))}


def run_demo(where: Path, broken: bool) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """The demo's pytest run on a copy of the shop: (the process, the JSON report, the HTML page)."""
    project = where / "shop"
    shutil.copytree(SHOP, project, ignore=_ignore)
    secret = secrets.token_urlsafe(18)
    env = {**os.environ, "SHOP_API_KEY": secret, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("SHOP_DEFECTS", None)
    if broken:
        env["SHOP_DEFECTS"] = "1"
    command = [sys.executable, "-m", "pytest", "--backend-gates", "--backend-gates-html=backend-gates.html",
               "-p", "no:cacheprovider", f"--backend-gates-seed={SEED}", f"--backend-gates-race-seed={SEED}",
               f"--hypothesis-seed={SEED}"]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    output = done.stdout + done.stderr
    assert secret not in output, "the staff key from the environment was printed"
    report_file, html_file = project / "backend-gates.json", project / "backend-gates.html"
    assert report_file.is_file() and html_file.is_file(), output[-6000:]
    report, html = report_file.read_text(), html_file.read_text(encoding="utf-8")
    assert secret not in report and secret not in html, "the staff key from the environment was written"
    return done, json.loads(report), html


def _shown(report: dict[str, Any]) -> str:
    return "\n".join(f"{g['gate']} {g['status']}: {g['summary'][:300]}" for g in report["gates"])


def test_the_demo_passes_every_gate_each_having_exercised_something(tmp_path: Path) -> None:
    done, report, html = run_demo(tmp_path, broken=False)
    assert done.returncode == 0, f"{_shown(report)}\n\n{done.stdout[-8000:]}"
    assert report["passed"] is True
    assert [g["gate"] for g in report["gates"]] == list(GATES)
    for result in report["gates"]:
        assert result["status"] == "passed", _shown(report)
        assert result["violations"] == []
        measured = result["measured"]
        idle = [key for key in EXERCISED[result["gate"]] if not measured.get(key)]
        assert not idle, f"{result['gate']} passed without exercising {idle}: {measured}"
    latency = next(g for g in report["gates"] if g["gate"] == "latency")
    assert set(latency["measured"]["timings"]) == {
        "GET /items", "GET /items/{item_id}", "GET /items/{item_id}/quote",
        f"{PRICING_TEST}::test_the_largest_order_is_priced_quickly"}
    assert 'data-verdict="passed"' in html
    assert "backend gates passed: 8 gates" in done.stdout


def test_the_broken_twin_fails_every_gate_on_its_planted_defect_and_nothing_else(tmp_path: Path) -> None:
    done, report, html = run_demo(tmp_path, broken=True)
    assert done.returncode == 1, done.stdout[-8000:]
    assert report["passed"] is False
    assert [g["gate"] for g in report["gates"]] == list(GATES)
    found = {g["gate"]: {(v["check"], v["where"]): v for v in g["violations"]} for g in report["gates"]}
    shown = "\n".join(f"{gate} [{check}] {where}: {v['message'][:300]}"
                      for gate, violations in found.items() for (check, where), v in violations.items())
    for result in report["gates"]:
        gate = result["gate"]
        assert result["status"] == "failed", f"{_shown(report)}\n\n{shown}"  # never `error`, never passed
        assert REQUIRED[gate] <= set(found[gate]), f"{gate}: missing {REQUIRED[gate] - set(found[gate])}\n\n{shown}"
        unexpected = set(found[gate]) - REQUIRED[gate] - ALSO.get(gate, set())
        assert not unexpected, f"{gate}: violations no planted defect explains: {unexpected}\n\n{shown}"
    for (check, where), words in MESSAGES.items():
        violation = next(v for violations in found.values() for key, v in violations.items() if key == (check, where))
        assert words in violation["message"], violation
    # The tests that failed are the gates' own (their fixtures and markers), no other test of the shop.
    failed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAILED ")}
    assert {name for name in failed if not name.startswith("backend-gates::")} == {
        "tests/test_concurrency.py::test_concurrent_orders_never_oversell",
        "tests/test_orders.py::test_order_history_is_one_query_whatever_the_page_size",
        f"{PRICING_TEST}::test_coupon_codes_are_exactly_the_apis"}, done.stdout[-4000:]
    assert 'data-verdict="failed"' in html
    assert all(f'data-gate="{gate}" data-status="failed"' in html for gate in GATES)


def _dev_module() -> Any:
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("broken", [False, True])
def test_dev_py_demo_runs_the_gates_with_the_html_report_and_prints_its_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], broken: bool) -> None:
    dev = _dev_module()
    (tmp_path / "backend-gates.html").write_text("an earlier run's report")
    ran: list[tuple[list[str], Path, dict[str, str]]] = []

    def fake_run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert not (cwd / "backend-gates.html").exists(), "the earlier run's report was left in place"
        ran.append((args, cwd, env))
        (cwd / "backend-gates.html").write_text("this run's report")
        return subprocess.CompletedProcess(args, 1 if broken else 0)

    monkeypatch.setattr(dev, "EXAMPLE", tmp_path)
    monkeypatch.setattr(dev.subprocess, "run", fake_run)
    monkeypatch.setenv("SHOP_DEFECTS", "1")  # left set by hand: only --broken turns the broken twin on
    status = dev.demo(["--broken", "-n", "2"] if broken else ["-n", "2"])
    assert status == (1 if broken else 0)
    [(args, cwd, env)] = ran
    assert args == [str(dev.PYTHON), "-m", "pytest", "--backend-gates", "--backend-gates-html=backend-gates.html",
                    "-n", "2"]
    assert cwd == tmp_path
    assert env.get("SHOP_DEFECTS") == ("1" if broken else None)
    assert f"HTML report: {tmp_path / 'backend-gates.html'}" in capsys.readouterr().out
