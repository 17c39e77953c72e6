"""The HTML report (`--backend-gates-html=PATH`) end to end: written by real runs, then opened in
headless Chromium (Debian's `chromium`), which must render every panel with no console error and
without reaching the network; each test keeps its screenshot under its tmp dir (the CI artifact).
Where Chromium is missing those tests skip with the reason (.ci/run installs it where apt-get works).
"""

from __future__ import annotations

import shutil

import pytest
from browser import (
    Node,
    Rendered,
    assert_clean,
    assert_offline,
    external_references,
    open_in_chromium,
    parse,
)
from conftest import EXAMPLES, gate, make_app, read_report

# --------------------------------------------------------------------------
# A failing run: coverage and latency without a server, and a gate whose output is hostile
# --------------------------------------------------------------------------

# A third-party gate whose violation holds what apps and fuzzers put in messages: markup, a script,
# and a reproduction carrying a secret from the environment.
HOSTILE_GATE = '''
from pytest_backend_gates import Gate, GateResult, Status, Violation


class HostileGate(Gate):
    name = "hostile"
    requires_table = True
    settings_parser = staticmethod(lambda table: {"token": table.string("token")})
    settings_keys = ("token",)

    def evaluate(self):
        message = ("500 with body <script>document.documentElement.setAttribute('data-pwned', '1')</script>"
                   "<img src=x onerror=\\"document.title='pwned'\\"> & more\\nsecond line")
        reproduce = ("curl -H 'Authorization: Bearer " + self.settings["token"] + "' "
                     "'http://127.0.0.1:9/items?q=<b>x</b>&n=1'")
        return GateResult(gate=self.name, status=Status.FAILED, summary="1 hostile finding",
                          violations=[Violation(where="GET /items", check="hostile-body", message=message,
                                                reproduce=reproduce, details={"body": "<svg onload=alert(1)>"})])


def pytest_backend_gates_register_gates(config):
    return [HostileGate]
'''

LATENCY_TESTS = '''
import time
import pytest
from app import calc


def test_tax():
    assert calc.tax(10) == 2


@pytest.mark.latency_budget("p95 < 1ms")
def test_slow():
    time.sleep(0.003)  # 3 ms against 1 ms: over budget however fast the machine


@pytest.mark.latency_budget("p95 < 500ms", "max < 900ms")
def test_fast():
    sum(range(100))
'''

FAILING_TOML = """
[tool.backend-gates]
report = "gates.json"
baseline = "${HTML_BASELINE_DIR}/baseline.json"
ignore = [{ gate = "coverage", check = "coverage-branches", reason = "branches <i>later</i>, issue 7" }]

[tool.backend-gates.coverage]
source = ["app"]
total = 90
branch = true
branches = 75
files = { "app/calc.py" = 95, "app/*" = 30 }

[tool.backend-gates.latency]

[tool.backend-gates.hostile]
token = "${HOSTILE_TOKEN}"
"""


def section(rendered: Rendered, gate_name: str) -> Node:
    return rendered.document.one("section", **{"data-gate": gate_name})


def test_failing_run_report_opens_in_chromium_with_every_panel(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "tok-html-5e4d3c2b1a"
    monkeypatch.setenv("HOSTILE_TOKEN", secret)
    monkeypatch.setenv("HTML_BASELINE_DIR", "private-dir-8a7b")  # named in the run's notes: redacted too
    make_app(pytester, FAILING_TOML, tests=LATENCY_TESTS)
    pytester.makepyfile(hostilegate=HOSTILE_GATE)
    result = pytester.runpytest_subprocess("-p", "hostilegate", "--backend-gates",
                                           "--backend-gates-html=out/gates report.html")
    assert result.ret == 1, result.stdout.str() + result.stderr.str()
    page = pytester.path / "out" / "gates report.html"
    source = page.read_text(encoding="utf-8")
    assert secret not in source and "Bearer ${HOSTILE_TOKEN}" in source  # redacted as in the JSON report
    assert "private-dir-8a7b" not in source
    assert "<script>document" not in source and "&lt;script&gt;document" in source

    # the figures the plots stand on are in the JSON report too (docs/report.md)
    report = read_report(pytester)
    histogram = gate(report, "latency")["measured"]["timings"]["test_app.py::test_slow"]["histogram"]
    assert len(histogram["edges_s"]) == len(histogram["counts"]) + 1 and sum(histogram["counts"]) >= 50
    per_file = gate(report, "coverage")["measured"]["per_file"]
    assert [(f["file"], f.get("minimum"), f.get("under")) for f in per_file] == \
        [("app/calc.py", 95.0, True), ("app/auth.py", 30.0, True), ("app/__init__.py", 30.0, False)]

    assert_offline(page)
    rendered = open_in_chromium(page, pytester.path)
    assert_clean(rendered)
    assert rendered.html.attrs["data-verdict"] == "failed" and "data-pwned" not in rendered.html.attrs
    assert rendered.document.one("head").one("title").text() == "Backend gates: FAILED"
    assert rendered.document.one("h1").text() == "Backend gates: FAILED"
    notes = rendered.document.one("div", class_="run-notes").text()
    assert "baseline " + str(pytester.path / "${HTML_BASELINE_DIR}/baseline.json") + " does not exist yet" in notes
    statuses = {s.attrs["data-gate"]: s.attrs["data-status"] for s in rendered.document.all("section", class_="gate")}
    assert statuses == {"latency": "failed", "coverage": "failed", "hostile": "failed"}
    overview = [a.attrs["href"] for a in rendered.document.one("table", class_="overview").all("a")]
    assert overview == ["#gate-latency", "#gate-coverage", "#gate-hostile"]

    # the hostile texts are shown as text, the reproduction a click away, with the secret redacted
    hostile = section(rendered, "hostile").one("details", class_="violation")
    assert hostile.attrs["data-accepted"] == "false" and "open" not in hostile.attrs
    assert "<script>document.documentElement" in hostile.one("pre", class_="message").text()
    assert hostile.one("div", class_="reproduce").one("pre").text() == \
        "curl -H 'Authorization: Bearer ${HOSTILE_TOKEN}' 'http://127.0.0.1:9/items?q=<b>x</b>&n=1'"
    assert hostile.all("script") == [] and hostile.all("img") == []

    # coverage: files against their minimum, new violations apart from the accepted one and its reason
    coverage = section(rendered, "coverage")
    calc_row = next(g for g in coverage.all("g") if g.all("text", class_="label")
                    and g.one("text", class_="label").text() == "app/calc.py")
    assert "row-under" in calc_row.attrs["class"] and calc_row.all("line", class_="minimum")
    states = {g.one("text", class_="label").text(): g.attrs["class"] for g in coverage.all("g", class_="row")}
    assert states == {"(total)": "row row-under", "(branches)": "row row-under", "app/calc.py": "row row-under",
                      "app/auth.py": "row row-under", "app/__init__.py": "row row-met"}
    new = coverage.one("div", class_="new").all("details", class_="violation")
    assert [(v.attrs["data-check"], v.one("code", class_="where").text()) for v in new] == \
        [("coverage-total", "total"), ("coverage-file", "app/calc.py"), ("coverage-file", "app/auth.py")]
    accepted = coverage.one("div", class_="accepted").one("details", class_="violation")
    assert accepted.attrs["data-check"] == "coverage-branches" and accepted.attrs["data-accepted"] == "true"
    assert accepted.one("p", class_="reason").text() == "accepted: branches <i>later</i>, issue 7"

    # latency: each timed test's distribution drawn against its budgets, the missed one in red
    latency = section(rendered, "latency")
    slow = latency.one("figure", **{"data-where": "test_app.py::test_slow"})
    assert [m.one("text").text() for m in slow.all("g", class_="mark-failed")] == ["budget p95 < 1ms"]
    assert slow.all("rect", class_="bar")
    fast = latency.one("figure", **{"data-where": "test_app.py::test_fast"})
    assert sorted(m.one("text").text() for m in fast.all("g", class_="mark-ok")) == \
        ["budget max < 900ms", "budget p95 < 500ms"]
    assert latency.one("details", class_="violation").attrs["data-check"] == "latency-budget"



# --------------------------------------------------------------------------
# The demo (`python3 dev.py demo`): its HTML report in Chromium, screenshot kept
# --------------------------------------------------------------------------

def test_demo_html_report_opens_in_chromium(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES / "shop", pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", ".coverage*", "backend-gates.*"))
    monkeypatch.delenv("SHOP_DEFECTS", raising=False)  # the fixed shop: every gate passes
    result = pytester.runpytest_subprocess("--backend-gates", "--backend-gates-seed=12345",
                                           "--backend-gates-html=backend-gates.html")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    page = pytester.path / "backend-gates.html"
    assert_offline(page)
    rendered = open_in_chromium(page, pytester.path)
    assert_clean(rendered)
    assert rendered.html.attrs["data-verdict"] == "passed"
    assert rendered.document.one("h1").text() == "Backend gates: passed"
    statuses = {s.attrs["data-gate"]: s.attrs["data-status"] for s in rendered.document.all("section", class_="gate")}
    assert statuses == dict.fromkeys(("contract", "security", "validation", "latency", "coverage", "race", "queries",
                                      "load"), "passed")
    rows = {g.one("text", class_="label").text(): g for g in section(rendered, "coverage").all("g")
            if g.all("text", class_="label")}
    assert {"(total)", "(branches)", "shop/pricing.py", "shop/db.py"} <= set(rows)
    assert all("row-met" in rows[name].attrs["class"] for name in ("(total)", "shop/pricing.py", "shop/db.py"))
    # every budgeted operation and test drawn against its budget, met
    latency = {f.attrs["data-where"]: f for f in section(rendered, "latency").all("figure")}
    assert set(latency) == {"GET /items", "GET /items/{item_id}", "GET /items/{item_id}/quote",
                            "tests/test_pricing.py::test_the_largest_order_is_priced_quickly"}
    assert all(f.all("g", class_="mark-ok") and not f.all("g", class_="mark-failed") for f in latency.values())
    load = section(rendered, "load")
    assert {f.attrs["data-where"] for f in load.all("figure", class_="figure-load")} == {"throughput", "p95", "users"}
    assert "GET /items/{item_id}/quote" in load.one("table", class_="endpoints").text()
    warnings = section(rendered, "race").one("div", class_="warnings").text()
    assert "read-back not checked" in warnings


# --------------------------------------------------------------------------
# The browser check itself: it does see errors and blocked loads
# --------------------------------------------------------------------------

def test_the_browser_check_sees_script_errors_and_refused_loads(pytester: pytest.Pytester) -> None:
    make_app(pytester, "[tool.backend-gates.coverage]\nsource = [\"app\"]\ntotal = 10\n")
    assert pytester.runpytest_subprocess("--backend-gates", "--backend-gates-html=ok.html").ret == 0
    page = (pytester.path / "ok.html").read_text(encoding="utf-8")
    broken = pytester.path / "broken.html"
    # what a report must never hold: a load from elsewhere (refused by the page's policy, and
    # Chromium's proxy is closed anyway) and an inline script that is not the page's own
    broken.write_text(page.replace("</main>", '<img src="http://198.51.100.7/x.png"><script>missing()</script></main>'),
                      encoding="utf-8")
    assert external_references(parse(broken.read_text())) == ["<img>", "img src=http://198.51.100.7/x.png"]
    with pytest.raises(AssertionError):
        assert_offline(broken)
    rendered = open_in_chromium(broken, pytester.path)
    assert rendered.html.attrs.get("data-report-ready") == "1"
    errors = rendered.html.attrs.get("data-report-errors", "")
    assert "refused by the page's policy: img-src http://198.51.100.7/x.png" in errors, errors
    assert "refused by the page's policy: script-src-elem inline" in errors, errors
    assert any("Content Security Policy" in line for line in rendered.console), rendered.console
    with pytest.raises(AssertionError):
        assert_clean(rendered)

    plain = pytester.path / "plain.html"  # no policy of ours: the script error reaches the console
    plain.write_text("<!DOCTYPE html><html><body><script>missing()</script></body></html>", encoding="utf-8")
    assert any("missing is not defined" in line for line in open_in_chromium(plain, pytester.path).console)


# --------------------------------------------------------------------------
# Bad values of the flag: one clear message, before any test runs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("", "ERROR: --backend-gates-html: '' is empty; expected a file path, e.g. --backend-gates-html=backend-gates.html"),
    ("adir", "ERROR: --backend-gates-html=adir: cannot be written: *directory*"),
])
def test_bad_html_path_is_a_usage_error_naming_the_flag(pytester: pytest.Pytester, value: str, expected: str) -> None:
    make_app(pytester, "[tool.backend-gates.coverage]\nsource = [\"app\"]\n")
    (pytester.path / "adir").mkdir()
    pytester.makeconftest("def pytest_runtest_call(item):\n    raise SystemExit('tests must not run')\n")
    result = pytester.runpytest_subprocess("--backend-gates", f"--backend-gates-html={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str() and "tests must not run" not in result.stdout.str()


# --------------------------------------------------------------------------
# The load run over time (locust: a 2 s run against the bundled catalog)
# --------------------------------------------------------------------------

LOAD_TOML = """
[tool.pytest.ini_options]
pythonpath = ["."]
[tool.backend-gates]
report = "gates.json"
[tool.backend-gates.contract]
app = "catalog_buggy:app"
[tool.backend-gates.load]
users = 5
spawn_rate = 50
duration = "2s"
thresholds = ["failures < 1%", "p95 < 100ms"]
"""


def test_load_panel_draws_the_run_over_time_against_the_thresholds(pytester: pytest.Pytester) -> None:
    for source in (EXAMPLES / "load").glob("*.py"):
        shutil.copy(source, pytester.path / source.name)
    pytester.makepyprojecttoml(LOAD_TOML)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--backend-gates=load", "-p", "no:schemathesis", "-p",
                                           "no:hypothesispytest", "--backend-gates-html=load.html")
    assert result.ret == 1, result.stdout.str() + result.stderr.str()  # the quadratic search is over 100ms
    load = gate(read_report(pytester), "load")
    history = load["measured"]["history"]
    assert set(history) == {"step_s", "t_s", "rps", "failures_per_s", "users", "p95_ms"}
    assert history["step_s"] == 1.0 and 2 <= len(history["t_s"]) <= 10
    assert {len(history[key]) for key in ("t_s", "rps", "failures_per_s", "users", "p95_ms")} == {len(history["t_s"])}
    # locust's own per-second counts: every request of the run is in one window
    assert sum(history["rps"]) * history["step_s"] == load["measured"]["requests"]
    assert max(u for u in history["users"] if u is not None) == 5
    assert any(p is not None and p > 100 for p in history["p95_ms"])

    page = pytester.path / "load.html"
    assert_offline(page)
    rendered = open_in_chromium(page, pytester.path)
    assert_clean(rendered)
    panel = section(rendered, "load")
    figures = {f.attrs["data-where"]: f for f in panel.all("figure", class_="figure-load")}
    assert set(figures) == {"throughput", "p95", "users"}
    assert figures["throughput"].all("polyline", class_="s0"), "no requests/s line"
    p95_marks = figures["p95"].all("g", class_="mark")
    assert [(m.attrs["class"], m.one("text").text()) for m in p95_marks] == \
        [("mark mark-failed", "threshold p95 < 100ms")]
    assert "GET /search" in panel.one("table", class_="endpoints").text()


def test_html_text_of_an_empty_run_says_no_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--backend-gates", "--backend-gates-html=empty.html")
    assert result.ret == 0
    document = parse((pytester.path / "empty.html").read_text(encoding="utf-8"))
    assert document.one("h1").text() == "Backend gates: no gate enabled"
    assert document.all("section") == [] and external_references(document) == []
