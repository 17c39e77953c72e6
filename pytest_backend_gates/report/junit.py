"""Every gate as a test case of pytest's `--junitxml` file (classname `backend-gates`, name = gate).

The gates are judged in pytest_sessionfinish before junitxml writes its file there (plugin.py
orders the hooks); each verdict goes to junitxml's own LogXML as the reports of a test would:
failed with its new violations, `error` as an error, skipped with its reason, passed with its
figures as properties. CI test views then show a failed gate where they show failed tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_backend_gates.report.view import figures_text
from pytest_backend_gates.result import GateResult, Status
from pytest_backend_gates.text import indent_lines

NODE_PREFIX = "backend-gates"


def _log_xml(config: pytest.Config) -> Any | None:
    try:  # the object behind --junitxml (pytest keeps it in its stash under a private key)
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - a pytest without it: look for the plugin instead
        return next((p for p in config.pluginmanager.get_plugins() if type(p).__name__ == "LogXML"), None)
    return config.stash.get(xml_key, None)


def gate_failure_text(result: GateResult) -> str:
    lines = [f"{result.gate} {result.status.value}: {result.summary}"]
    for v in result.new_violations:
        lines.append(f"{v.where} [{v.check}]: {v.message}")
        if v.reproduce:
            lines.append(f"    reproduce: {indent_lines(v.reproduce)}")
    accepted = result.accepted_violations
    if accepted:
        lines.append(f"({len(accepted)} accepted violation{'s' * (len(accepted) != 1)} not shown)")
    lines.extend(f"warning: {w}" for w in result.warnings if "\n" not in w)
    return "\n".join(lines)


def add_gate_cases(config: pytest.Config, results: list[GateResult]) -> bool:
    """Add one test case per gate to the --junitxml file being written; False without one."""
    xml = _log_xml(config)
    if xml is None:
        return False
    for result in results:
        for report in _reports(result):
            xml.pytest_runtest_logreport(report)
    return True


def _reports(result: GateResult) -> list[pytest.TestReport]:
    nodeid = f"{NODE_PREFIX}::{result.gate}"
    properties = [("summary", result.summary)]
    figures = figures_text(result)
    if figures:
        properties.append(("figures", figures))
    accepted = len(result.accepted_violations)
    properties += [("new_violations", str(len(result.new_violations))), ("accepted_violations", str(accepted))]

    def report(when: str, outcome: str, longrepr: Any = None, duration: float = 0.0,
               user_properties: list[tuple[str, str]] | None = None) -> pytest.TestReport:
        return pytest.TestReport(nodeid=nodeid, location=(NODE_PREFIX, None, result.gate), keywords={},
                                 outcome=outcome, longrepr=longrepr, when=when, sections=[], duration=duration,  # type: ignore[arg-type]
                                 user_properties=user_properties or [])

    if result.status == Status.ERROR:
        first = report("setup", "failed", gate_failure_text(result), result.duration_s)
    elif result.status == Status.SKIPPED:
        first = report("setup", "skipped", (NODE_PREFIX, 0, f"Skipped: {result.summary}"), result.duration_s)
    else:
        first = report("setup", "passed")
    reports = [first]
    if result.status == Status.FAILED:
        reports.append(report("call", "failed", gate_failure_text(result), result.duration_s))
    elif result.status == Status.PASSED:
        reports.append(report("call", "passed", None, result.duration_s))
    reports.append(report("teardown", "passed", user_properties=properties))
    return reports
