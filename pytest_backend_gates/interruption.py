"""What an interrupted run (Ctrl-C, `pytest.exit`, an xdist worker's Ctrl-C) does to a gate's verdict.

A gate that did not finish before the interruption is never `passed` (nor `skipped`: what it
would have checked did not run). What did run is still judged: a failure found stays `failed`.
"""

from __future__ import annotations

from dataclasses import replace

from pytest_backend_gates.result import GateResult, Status

NOT_FINISHED = "the run was interrupted before this gate finished"


def after_interruption(result: GateResult, finished: bool) -> GateResult:
    if finished:
        return result
    if result.status is Status.FAILED:
        return replace(result, warnings=[f"{NOT_FINISHED}: only what ran before the interruption is judged",
                                         *result.warnings])
    if result.status is Status.ERROR:
        if "interrupted" in result.summary:
            return result
        return replace(result, summary=f"{NOT_FINISHED}; {result.summary}")
    if result.status is Status.PASSED:
        summary = f"{NOT_FINISHED} (until then: {result.summary})"
    elif result.measured:  # skipped on what it measured (coverage of a run cut short): say what it had
        summary = f"{NOT_FINISHED} (until then: {result.summary})"
    else:  # skipped: typically "nothing ran", which here is the interruption's doing, not deselection
        summary = NOT_FINISHED
    return replace(result, status=Status.ERROR, summary=summary)


def interrupted_verdict(results: list[GateResult]) -> str:
    """The verdict line's text for an interrupted run."""
    bad = [r for r in results if r.status.fails_run]
    if bad:
        return "backend gates INTERRUPTED: the run did not finish; " + \
            ", ".join(f"{r.gate} {r.status.value}" for r in bad)
    if not results:
        return "backend gates INTERRUPTED: the run did not finish"
    return (f"backend gates INTERRUPTED: the run did not finish, but the {len(results)} "
            f"gate{'s' if len(results) != 1 else ''} had finished and passed")
