"""The security gate's findings as reported: in rule order, an app-wide one (a missing header,
a server banner) once with the other operations it was seen on, each with how often and where;
and which answers a browser could sniff into a page (what a missing X-Content-Type-Options is
about).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pytest_backend_gates.gates.security.paths import paths_text
from pytest_backend_gates.security_rules import APP_WIDE_RULES, REPORT_ORDER
from pytest_backend_gates.service.exchange import Exchange


def sniffable(exchange: Exchange) -> bool:
    """A body a browser could sniff into a page, what a missing X-Content-Type-Options is about:
    markup, or declared HTML/XML. Not JSON, not bare text such as the 'Internal Server Error' a
    server sends for a crash (nothing in it to render)."""
    if not exchange.body.strip() or exchange.content_type.endswith("json"):
        return False
    return "html" in exchange.content_type or "xml" in exchange.content_type or b"<" in exchange.body[:65536]


def grouped_findings(findings: Iterable[dict[str, Any]],
                     finding_severity: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """Findings in rule order, each with how often it was seen; an app-wide one (APP_WIDE_RULES)
    once, naming the other operations it was seen on."""
    ordered = sorted(findings, key=lambda f: (
        REPORT_ORDER.index(f["rule"]) if f["rule"] in REPORT_ORDER else 99, f["where"]))
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    result = []
    for finding in ordered:
        if finding["rule"] not in APP_WIDE_RULES:
            result.append(dict(finding))
            continue
        key = (finding["rule"], finding["key"])
        if key not in grouped:
            grouped[key] = {**finding, "also": [], "paths": []}  # app-wide: operations, not ids
            result.append(grouped[key])
        else:
            first = grouped[key]
            first["also"].append(finding["where"])
            first["count"] += finding["count"]
            if finding["sniffable"] and not first["sniffable"]:  # show the answer it matters on
                first.update(where=finding["where"], message=finding["message"],
                             reproduce=finding["reproduce"], sniffable=True)
    for finding in result:
        also = finding.pop("also", [])
        if also:
            shown = ", ".join(also[:5]) + (f" and {len(also) - 5} more" if len(also) > 5 else "")
            finding["message"] += f"; also on {shown}"
        if finding["count"] > 1:  # one operation on many ids is one finding: say where it was seen
            finding["message"] += f" (seen in {finding['count']} responses{paths_text(finding)})"
        if finding["rule"] == "header-missing" and finding_severity(finding) == "warn":
            finding["message"] += (": every answer without it was JSON or bare text, which browsers do not "
                                   "sniff into a page, so this is a warning; list the header in "
                                   "required_headers to make it a failure")
    return result
