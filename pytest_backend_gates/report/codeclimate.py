"""GitLab code quality (`--backend-gates-codeclimate=PATH`): the JSON array of issues GitLab reads
from `artifacts:reports:codequality` and shows in merge requests (a subset of Code Climate's
issue format: description, check_name, fingerprint, severity, location.path and
location.lines.begin are what GitLab requires).

- One issue per **new** violation. Accepted ones (baseline, `ignore`) are left out: the team
  decided about them, and GitLab already tells new from existing issues by comparing the merge
  request's report with the target branch's. They stay in the JSON report and in SARIF.
- `fingerprint`: the violation's stable fingerprint, so GitLab matches the same finding across
  pipelines; made unique within the report (GitLab keeps only the first issue of a fingerprint).
- `severity`: the check's, from the one table (checks.py).
- `location.path`: relative to the project root; GitLab requires a file, so a finding with
  none (an API operation, the coverage total) is placed at its gate's table in pyproject.toml
  (locate.py).
- A gate that is `error` could not check: it is one `blocker` issue (`gate-error`), so the
  merge request does not look clean while a gate did not run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pytest_backend_gates.checks import lookup
from pytest_backend_gates.report.locate import Locator
from pytest_backend_gates.report.view import RunView, first_line
from pytest_backend_gates.result import Status, Violation

GATE_ERROR = "gate-error"
_PERFORMANCE_GATES = ("latency", "load", "queries")
_DESCRIPTION_LIMIT = 500


def codeclimate_text(view: RunView) -> str:
    return json.dumps(codeclimate_issues(view), indent=2, ensure_ascii=False) + "\n"


def codeclimate_issues(view: RunView) -> list[dict[str, Any]]:
    locator = Locator(view)
    issues: list[dict[str, Any]] = []
    seen: set[str] = set()
    for result in view.results:
        if result.status is Status.ERROR:
            error = Violation(where=result.gate, check=GATE_ERROR,
                              message=f"the {result.gate} gate could not check: {first_line(result.summary, 400)}")
            issues.append(_issue(result.gate, error, "blocker", ["Bug Risk"], _unique(_hash(result.gate, GATE_ERROR), seen),
                                 locator, "The gate did not run to a verdict; its summary says why. Fix that and "
                                 "run again: nothing it checks was judged.", description=error.message))
        for violation in result.new_violations:
            check = lookup(violation.check, result.gate)
            categories = (["Security"] if check.security else
                          ["Performance"] if check.gate in _PERFORMANCE_GATES else ["Bug Risk"])
            base = violation.fingerprint or _hash(result.gate, violation.check, violation.where, violation.message)
            body = check.help + (f"\n\nReproduce:\n\n    {violation.reproduce}" if violation.reproduce else "")
            issues.append(_issue(result.gate, violation, check.severity, categories, _unique(base, seen), locator,
                                 body))
    return issues


def _issue(gate: str, violation: Violation, severity: str, categories: list[str], fingerprint: str,
           locator: Locator, body: str, description: str | None = None) -> dict[str, Any]:
    place = locator.place(gate, violation)
    if description is None:
        text = first_line(violation.message, _DESCRIPTION_LIMIT) or violation.check
        description = f"{gate} {violation.check}: {text}" + (f" ({violation.where})" if violation.where else "")
    return {
        "type": "issue",
        "check_name": violation.check,
        "description": description,
        "content": {"body": body},
        "categories": categories,
        "severity": severity,
        "fingerprint": fingerprint,
        "location": {
            # GitLab requires a path; without a configuration file only the root is left
            "path": place.path if place is not None else ".",
            "lines": {"begin": (place.line if place is not None and place.line else 1)},
        },
    }


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _unique(fingerprint: str, seen: set[str]) -> str:
    """The fingerprint, or (for a second issue with the same one) a derived one that is the same
    on the next run as long as the issues come in the same order."""
    candidate, n = fingerprint, 1
    while candidate in seen:
        n += 1
        candidate = _hash(fingerprint, str(n))
    seen.add(candidate)
    return candidate
