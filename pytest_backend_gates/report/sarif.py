"""SARIF 2.1.0 (`--backend-gates-sarif=PATH`) for code scanning (GitHub, and any SARIF viewer).

One rule per check id that occurs in the run (id = check, from the one table in checks.py: its
title, help, gate, and for security checks the OWASP API Security Top 10 category as a property
and a tag). One result per violation: new ones at level `error`; accepted ones (baseline or an
`ignore` entry) too, with a `suppressions` entry saying why, which is how SARIF marks a finding
a team has decided about. Where a result is: see locate.py. A gate that is `error` could not
check, so it is a tool execution notification, and the run is not `executionSuccessful`: code
scanning must not look clean because a gate did not run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_backend_gates.checks import Check, lookup
from pytest_backend_gates.report.locate import Locator, is_node_id, is_operation
from pytest_backend_gates.report.view import RunView, first_line
from pytest_backend_gates.result import GateResult, Status, Violation

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "pytest-backend-gates"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "backendGates/v1"  # partialFingerprints key: our fingerprint's algorithm, version 1
# GitHub's security-severity (0.0-10.0) per severity of the check table, for security rules:
# 9.0+ is shown as critical, 7.0+ high, 4.0+ medium, below that low.
_SECURITY_SEVERITY = {"blocker": "9.5", "critical": "9.0", "major": "7.0", "minor": "4.0", "info": "1.0"}
_MESSAGE_LIMIT = 1000  # characters of the message's first line in a result
_WARNING_LIMIT = 4000


def sarif_text(view: RunView) -> str:
    return json.dumps(sarif_log(view), indent=2, ensure_ascii=False) + "\n"


def sarif_log(view: RunView) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    locator = Locator(view)
    for gate_result, violation in view.violations():
        if violation.check not in index:
            index[violation.check] = len(rules)
            rules.append(_rule(lookup(violation.check, gate_result.gate)))
        results.append(_result(gate_result, violation, index[violation.check], locator))
    driver: dict[str, Any] = {"name": TOOL_NAME, "rules": rules}
    if view.version:
        driver["version"] = view.version
        driver["semanticVersion"] = view.version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": view.root.as_uri().rstrip("/") + "/"}},
        "invocations": [_invocation(view)],
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(check: Check) -> dict[str, Any]:
    properties: dict[str, Any] = {"gate": check.gate, "tags": list(check.tags), "severity": check.severity}
    if check.owasp:
        properties["owasp"] = check.owasp
    if check.security:
        properties["security-severity"] = _SECURITY_SEVERITY[check.severity]
    return {
        "id": check.id,
        "name": "".join(part.capitalize() for part in check.id.replace("_", "-").split("-") if part),
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.help},
        "help": {"text": check.help + (f" OWASP API Security Top 10: {check.owasp}." if check.owasp else "")},
        "defaultConfiguration": {"level": "error"},
        "properties": properties,
    }


def _result(gate_result: GateResult, violation: Violation, rule_index: int, locator: Locator) -> dict[str, Any]:
    text = first_line(violation.message, _MESSAGE_LIMIT) or violation.check
    result: dict[str, Any] = {
        "ruleId": violation.check,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": f"{text} ({violation.where})" if violation.where else text},
        "locations": [_location(gate_result.gate, violation, locator)],
    }
    if violation.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: violation.fingerprint}
    if violation.accepted:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": violation.reason or "accepted"}]
    properties: dict[str, Any] = {"gate": gate_result.gate, "where": violation.where}
    if violation.reproduce:
        properties["reproduce"] = violation.reproduce
    result["properties"] = properties
    return result


def _location(gate: str, violation: Violation, locator: Locator) -> dict[str, Any]:
    location: dict[str, Any] = {}
    place = locator.place(gate, violation)
    if place is not None:
        path = Path(place.path)
        # relative to the project root (what code scanning matches against the repository), or
        # an absolute file URI for a file outside it
        artifact: dict[str, Any] = ({"uri": path.as_uri()} if path.is_absolute() else
                                    {"uri": quote(place.path, safe="/"), "uriBaseId": SRCROOT})
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if place.line is not None:
            physical["region"] = {"startLine": place.line}
        location["physicalLocation"] = physical
    if violation.where and (place is None or violation.where != place.path):
        # what the finding is about (the operation, the test), unless `where` is the file itself
        logical: dict[str, Any] = {"name": violation.where, "fullyQualifiedName": f"{gate}:{violation.where}"}
        if is_operation(violation.where):
            logical["kind"] = "resource"
        elif is_node_id(violation.where):
            logical["kind"] = "function"
        location["logicalLocations"] = [logical]
    return location


def _invocation(view: RunView) -> dict[str, Any]:
    notifications = []
    if view.interrupted:
        notifications.append(_notification("error", "the run was interrupted: gates that had not finished "
                                           "are not judged", None))
    for result in view.results:
        if result.status is Status.ERROR:
            notifications.append(_notification(
                "error", f"the {result.gate} gate could not check: {first_line(result.summary, _MESSAGE_LIMIT)}",
                result.gate))
        elif result.status is Status.SKIPPED:
            notifications.append(_notification(
                "note", f"the {result.gate} gate did not judge: {first_line(result.summary, _MESSAGE_LIMIT)}",
                result.gate))
        for warning in result.warnings:  # whole: a crashed gate's traceback is one
            text = warning if len(warning) <= _WARNING_LIMIT else warning[: _WARNING_LIMIT - 1] + "…"
            notifications.append(_notification("warning", f"{result.gate}: {text}", result.gate))
    invocation: dict[str, Any] = {
        "executionSuccessful": not view.interrupted and not any(r.status is Status.ERROR for r in view.results),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _notification(level: str, text: str, gate: str | None) -> dict[str, Any]:
    notification: dict[str, Any] = {"level": level, "message": {"text": text}}
    if gate is not None:
        notification["properties"] = {"gate": gate}
    return notification
