"""The coverage table's minimums (total, branches, files) judged on the measured figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_backend_gates.gates.coverage.figures import (
    FileCoverage,
    floor2,
    most_specific_glob,
    percent_text,
)
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.settings import CoverageSettings


def judge_thresholds(gate: str, settings: CoverageSettings, files: list[FileCoverage], totals: dict[str, Any], *,
                     measured: dict[str, Any], warnings_out: list[str], under_measured: str, has_arcs: bool,
                     measured_by: str, rootpath: Path) -> GateResult:
    """The gate's result: `measured` and `warnings_out` (what the gate found so far) completed, with
    a violation for each minimum not met; `under_measured` is appended to each (why the figure may be low)."""
    total = float(totals["percent_covered"])
    violations: list[Violation] = []
    threshold: dict[str, Any] = {}
    summary_parts = [f"total {percent_text(total)}"]

    least_covered = sorted(files, key=lambda f: f.percent)[:3]
    if settings.total is not None:
        threshold["total"] = settings.total
        summary_parts[-1] += f" (min {settings.total:g}%)"
        if total < settings.total:
            kind = "statements and branches" if settings.branch else "statements"
            lowest = ", ".join(f"{f.path} {percent_text(f.percent)}" for f in least_covered if f.percent < 100)
            violations.append(Violation(
                where="total",
                check="coverage-total",
                identity="",  # the message lists the least covered files, which change
                message=f"total coverage {percent_text(total)} is under the minimum {settings.total:g}% "
                f"({kind}; {totals['covered_lines']} of {totals['num_statements']} statements covered)"
                + (f"; least covered: {lowest}" if lowest else "") + under_measured,
            ))

    if settings.branch and not has_arcs:
        return GateResult.error(
            gate,
            f"branch = true, but {measured_by} measured without branch coverage; "
            "run pytest-cov with --cov-branch (or set branch = true in [tool.coverage.run])",
        )
    if settings.branch:
        num_branches = int(totals.get("num_branches", 0))
        covered_branches = int(totals.get("covered_branches", 0))
        branch_percent = 100.0 if num_branches == 0 else 100.0 * covered_branches / num_branches
        measured["branches"] = floor2(branch_percent)
        summary_parts.append(f"branches {percent_text(branch_percent)}")
        if settings.branches is not None:
            threshold["branches"] = settings.branches
            summary_parts[-1] += f" (min {settings.branches:g}%)"
            if branch_percent < settings.branches:
                worst = sorted(files, key=lambda f: -len(f.missing_branches))[:3]
                names = ", ".join(f"{f.path} ({len(f.missing_branches)})" for f in worst if f.missing_branches)
                violations.append(Violation(
                    where="total",
                    check="coverage-branches",
                    identity="",
                    message=f"branch coverage {percent_text(branch_percent)} is under the minimum "
                    f"{settings.branches:g}% ({covered_branches} of {num_branches} branches taken)"
                    + (f"; most missed branches: {names}" if names else "") + under_measured,
                ))

    if settings.files:
        threshold["files"] = dict(settings.files)
        globs = list(settings.files)
        used: set[str] = set()
        matched = 0
        file_violations = []
        for file in files:
            glob = most_specific_glob(file.path, globs)
            if glob is None:
                continue
            used.add(glob)
            matched += 1
            minimum = settings.files[glob]
            if file.percent < minimum:
                first_missing = min([*file.missing_lines, *(a for a, _ in file.missing_branches)], default=None)
                file_violations.append(Violation(
                    where=file.path,
                    check="coverage-file",
                    identity=glob,  # the file under the minimum of this glob, whatever its figures
                    file=file.path,
                    line=first_missing,
                    message=f"{file.path}: {percent_text(file.percent)} is under the minimum {minimum:g}% "
                    f"set by files.{json.dumps(glob)}; {file.missing_text()}{under_measured}",
                    details={"percent": floor2(file.percent), "minimum": minimum, "glob": glob,
                             "missing_lines": list(file.missing_lines)},
                ))
        file_violations.sort(key=lambda v: v.details["percent"] - v.details["minimum"])
        violations.extend(file_violations)
        for glob in globs:
            if glob not in used:
                warnings_out.append(
                    f"files.{json.dumps(glob)} matched no measured file, so its minimum was not enforced "
                    f"(paths are relative to {rootpath}, e.g. {files[0].path if files else 'src/pkg/mod.py'!r})"
                )
        under = len(file_violations)
        summary_parts.append(f"{under} of {matched} files under their minimum")

    measured.update(per_file(files, dict(settings.files)))
    if not threshold and (settings.diff is None or settings.diff.min is None):
        warnings_out.append("no minimum is set (total, branches, files or diff.min): coverage is reported, "
                            "nothing is enforced")
    return GateResult(
        gate=gate,
        status=Status.FAILED if violations else Status.PASSED,
        summary=", ".join(summary_parts),
        violations=violations,
        warnings=warnings_out,
        measured=measured,
        threshold=threshold,
    )


PER_FILE_LIMIT = 200  # files listed in measured["per_file"]: the report stays small on a large code base


def per_file(files: list[FileCoverage], minimums: dict[str, float]) -> dict[str, Any]:
    """`per_file`: each measured file's percent (rounded down) with the minimum its most specific
    `files` glob sets and whether it is under it, for reports that show every file against its threshold (the HTML report);
    the files furthest under their minimum first, then the least covered. At most PER_FILE_LIMIT,
    `per_file_omitted` counts the rest (the best covered)."""
    globs = list(minimums)
    rows: list[dict[str, Any]] = []
    for file in files:
        row: dict[str, Any] = {"file": file.path, "percent": floor2(file.percent), "statements": file.statements,
                               "missing_lines": len(file.missing_lines)}
        glob = most_specific_glob(file.path, globs)
        if glob is not None:  # `under`: the judgement of the violations above, for reporters to show as is
            row |= {"minimum": minimums[glob], "glob": glob, "under": file.percent < minimums[glob]}
        rows.append(row)
    rows.sort(key=lambda r: (min(0.0, r["percent"] - r.get("minimum", 0.0)), r["percent"], r["file"]))
    shown = {"per_file": rows[:PER_FILE_LIMIT]}
    return shown | ({"per_file_omitted": len(rows) - PER_FILE_LIMIT} if len(rows) > PER_FILE_LIMIT else {})
