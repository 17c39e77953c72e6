"""The coverage result of a partial run (run_shape.py tells what makes a run partial)."""

from __future__ import annotations

from dataclasses import replace

from pytest_backend_gates.result import GateResult, Status


def not_judged(result: GateResult, reasons: list[str]) -> GateResult:
    """The coverage result of a partial run: `skipped` with the reasons and the figures measured,
    never `passed` (nothing was judged) nor `failed` (the tests left out would have covered more)."""
    why = "; ".join(reasons)
    note = ("coverage is judged on a whole run only; its minimums were not enforced on this one "
            f"({why}): run the whole suite to enforce them")
    summary = f"not enforced, partial run: {why}"
    warnings = [note, *result.warnings]
    if result.status != Status.ERROR:
        summary += f" (measured: {result.summary})"
    else:  # what went wrong still needs fixing before a whole run (a missing git ref)
        warnings.insert(1, f"on a whole run this would be an error: {result.summary}")
    return replace(result, status=Status.SKIPPED, summary=summary, violations=[],
                   warnings=warnings, measured={**result.measured, "partial_run": reasons})
