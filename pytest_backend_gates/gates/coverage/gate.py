"""Coverage gate: coverage.py thresholds for the whole run and per file.

Measurement starts before conftest.py files and test modules are imported,
so module-level code counts as in `coverage run -m pytest`. When pytest-cov
(or an outer `coverage run`) already measures, its data is read instead:
the code is never traced twice.

Greenlets: coverage.py without `greenlet` in `concurrency` loses the lines that run after a
switch between greenlets (SQLAlchemy's asyncio layer switches on every awaited query). When
greenlet is installed the gate measures with it added to the configured concurrency; when
someone else measures without it while greenlet is in use, the result says what to add.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import math
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.early_imports import (
    EarlyModule,
    early_import_error,
    in_coverage_source,
    project_modules,
)
from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.settings import CoverageSettings


@dataclass(frozen=True)
class FileCoverage:
    path: str  # relative to rootdir where possible, with forward slashes
    percent: float  # coverage.py's figure: statements and, with branch=true, branches
    statements: int
    missing_lines: tuple[int, ...]
    executed_lines: tuple[int, ...]
    missing_branches: tuple[tuple[int, int], ...]

    def missing_text(self) -> str:
        parts = []
        if self.missing_lines:
            parts.append("missing lines " + line_ranges(self.missing_lines, self.executed_lines))
        if self.missing_branches:
            shown = [f"{a}->{'exit' if b < 0 else b}" for a, b in self.missing_branches[:10]]
            more = len(self.missing_branches) - len(shown)
            parts.append("missing branches " + ", ".join(shown) + (f" (+{more} more)" if more else ""))
        return "; ".join(parts)


def line_ranges(missing: tuple[int, ...], executed: tuple[int, ...]) -> str:
    """'3-5, 9' the way `coverage report -m` writes it: a range runs over statements, not blank lines."""
    statements = sorted(set(missing) | set(executed))
    missing_set = set(missing)
    ranges: list[tuple[int, int]] = []
    start = end = None
    for line in statements:
        if line in missing_set:
            start = line if start is None else start
            end = line
        elif start is not None:
            ranges.append((start, end))  # type: ignore[arg-type]
            start = end = None
    if start is not None:
        ranges.append((start, end))  # type: ignore[arg-type]
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def floor2(value: float) -> float:
    """Two decimals, rounded down: 89.996 must never show as a passing 90.00."""
    return math.floor(value * 100) / 100


def percent_text(value: float) -> str:
    return f"{floor2(value):.2f}%"


def most_specific_glob(path: str, globs: list[str]) -> str | None:
    """Of the globs matching `path`, the one with most literal characters (then the longest)."""
    matching = [g for g in globs if fnmatch.fnmatchcase(path, g)]
    if not matching:
        return None
    return max(matching, key=lambda g: (len(g) - sum(g.count(c) for c in "*?["), len(g), g))


# Modules that run code in greenlets other than the main one (SQLAlchemy's asyncio layer on
# every query, greenback's portals): loaded, they mean coverage.py needs greenlet concurrency.
GREENLET_USERS = ("sqlalchemy.ext.asyncio", "greenback")
# Concurrency settings under which coverage.py follows greenlets (gevent and eventlet run on them).
FOLLOWS_GREENLETS = ("greenlet", "gevent", "eventlet")
GREENLET_LINE = 'concurrency = ["thread", "greenlet"]'
# What code that runs in greenlets looks like in the measured source (see greenlet_user_in).
GREENLET_SIGNS = re.compile(rb"\b(?:sqlalchemy|sqlmodel)\.ext\.asyncio\b|\bcreate_async_engine\b|"
                            rb"\basync_sessionmaker\b|^\s*(?:import|from)\s+(?:greenlet|greenback)\b", re.MULTILINE)
SCAN_FILES = 5000  # files looked at, at most
SCAN_BYTES = 1 << 20  # of each file
SKIPPED_DIRS = {"node_modules", "site-packages", "dist-packages", "__pycache__", "build", "dist"}


def greenlet_user_in(paths: list[Path]) -> str | None:
    """The first Python file under `paths` that uses async SQLAlchemy (or SQLModel's), or
    greenlet/greenback directly; None when none does (bounded: SCAN_FILES files, skipping
    hidden directories and virtual environments)."""
    seen = 0
    for root in paths:
        candidates = [root] if root.is_file() else None
        if candidates is None:
            candidates = []
            for directory, subdirs, files in os.walk(root):
                subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in SKIPPED_DIRS
                              and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))]
                candidates += [Path(directory, name) for name in files if name.endswith(".py")]
                if len(candidates) >= SCAN_FILES:
                    break
        for path in candidates:
            seen += 1
            if seen > SCAN_FILES:
                return None
            try:
                with open(path, "rb") as source:
                    if GREENLET_SIGNS.search(source.read(SCAN_BYTES)):
                        return str(path)
            except OSError:
                continue
    return None


def greenlet_users() -> list[str]:
    """The loaded modules that switch greenlets, if greenlet itself is loaded."""
    if "greenlet" not in sys.modules:
        return []
    return [name for name in GREENLET_USERS if name in sys.modules]


def _pytest_cov_plugin(config: pytest.Config) -> Any:
    """pytest-cov's plugin object when it is measuring this run, else None."""
    plugin = config.pluginmanager.getplugin("_cov")
    options = getattr(plugin, "options", None)
    if plugin is None or options is None or getattr(options, "no_cov", False) or not options.cov_source:
        return None
    return plugin


def _cov_requested(config: pytest.Config) -> bool:
    """pytest-cov will measure (--cov given) though it has not started yet: the gates start first,
    before pytest-django's django.setup() imports the project's models and settings."""
    options = config.known_args_namespace
    return bool(getattr(options, "cov_source", None)) and not getattr(options, "no_cov", False)


class CoverageGate(Gate):
    name = "coverage"
    settings: CoverageSettings

    def __init__(self, settings: CoverageSettings, context: Any) -> None:
        super().__init__(settings, context)
        self._cov: Any = None  # coverage.Coverage we started, or an outer one
        self._owned = False
        self._measured_by = "coverage.py"
        self._worker_blobs: list[bytes] = []
        self._coverage_warnings: list[str] = []  # from this process
        self._worker_warnings: list[str] = []
        self._other_warnings: list[str] = []  # the app's, that the warning filters made errors
        self._worker_greenlet_users: set[str] = set()
        self._has_arcs = False
        self._greenlet_added = False
        self._greenlet_evidence: str | None = None  # the file that showed greenlets in use
        self._imported_early: list[EarlyModule] = []  # measured code imported before measuring began
        from pytest_backend_gates.gates.coverage.run_shape import RunShape

        self._shape = RunShape(context.pytest_config)

    # -- measuring ---------------------------------------------------------
    def _source(self) -> list[str] | None:
        """Directories resolved against rootdir; anything else is a package name for coverage.py."""
        resolved = []
        for entry in self.settings.source:
            path = self.context.rootpath / entry
            if path.exists():
                resolved.append(str(path))
            elif "/" in entry or os.sep in entry or entry.endswith(".py"):
                shown = self.context.config.redactor.redact(entry)
                raise pytest.UsageError(
                    f"[tool.backend-gates.coverage] source: {shown!r} does not exist under {self.context.rootpath}; "
                    "expected a directory (relative to the rootdir) or an importable package name"
                )
            else:
                resolved.append(entry)
        return resolved or None

    def start(self) -> None:
        import coverage

        self.context.pytest_config.pluginmanager.register(self._shape, "backend-gates-run-shape")
        if coverage.Coverage.current() is None:  # under `coverage run` everything was measured from the start
            root = self.context.rootpath
            self._imported_early = in_coverage_source(project_modules(root), root, list(self.settings.source))
        if _pytest_cov_plugin(self.context.pytest_config) is not None or _cov_requested(self.context.pytest_config):
            self._measured_by = "pytest-cov"
            return
        current = coverage.Coverage.current()
        if current is not None:
            self._cov, self._measured_by = current, "coverage run"
            return
        self._cov = coverage.Coverage(data_file=None, branch=self.settings.branch, source=self._source())
        configured = list(self._cov.get_option("run:concurrency") or [])
        self._greenlet_added = self._follow_greenlets(self._cov, configured)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._cov.start()
            except coverage.CoverageException:
                if not self._greenlet_added:
                    raise
                # greenlet found but not usable by this tracer: measure as configured
                self._cov = coverage.Coverage(data_file=None, branch=self.settings.branch, source=self._source())
                self._greenlet_added = False
                self._cov.start()
        self._remember(caught)
        self._owned = True

    def _follow_greenlets(self, cov: Any, configured: list[str]) -> bool:
        """Measure with concurrency = ["thread", "greenlet"] when [tool.coverage.run] does not
        set concurrency, greenlet is installed and the measured code uses a library that runs
        code in greenlets (`greenlet_user_in`). Without it coverage.py loses the lines run after
        a greenlet switch (an async SQLAlchemy app measured 82.79% instead of 96.36%); with it,
        coverage.py asks greenlet which greenlet runs on every traced event, which made a sync
        app's run 35-60% more CPU: so only where the code shows it needs it. The app's modules
        are not imported yet, hence the look at its source. A concurrency the user set stands,
        and so does `core = "sysmon"`, which cannot follow greenlets; the result warns when
        greenlets were in use anyway."""
        if configured or cov.get_option("run:core") == "sysmon":
            return False
        if importlib.util.find_spec("greenlet") is None:
            return False
        self._greenlet_evidence = greenlet_user_in(self._source_paths())
        if self._greenlet_evidence is None:
            return False
        cov.set_option("run:concurrency", ["thread", "greenlet"])
        return True

    def _source_paths(self) -> list[Path]:
        """Where the measured code is: the source directories, a source package's directory
        (found without importing it), or the rootdir when no source is set."""
        if not self.settings.source:
            return [self.context.rootpath]
        paths = []
        for entry in self.settings.source:
            path = self.context.rootpath / entry
            if path.exists():
                paths.append(path)
                continue
            try:
                spec = importlib.util.find_spec(entry.split(".")[0])
            except (ImportError, ValueError):
                continue
            if spec is not None:
                paths += [Path(location) for location in spec.submodule_search_locations or ()]
                if spec.origin and not spec.submodule_search_locations:
                    paths.append(Path(spec.origin))
        return paths

    def _missing_source_text(self) -> str:
        """'; source 'shopp' is neither a directory under ROOT nor an importable package' for each
        entry of `source` that names nothing (no data is then the consequence, not the cause)."""
        missing = []
        for entry in self.settings.source:
            if (self.context.rootpath / entry).exists():
                continue
            try:
                found = importlib.util.find_spec(entry) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(repr(self.context.config.redactor.redact(entry)))
        if not missing:
            return ""
        return (f"; [tool.backend-gates.coverage] source {', '.join(missing)}: neither a directory under "
                f"{self.context.rootpath} nor an importable package (check the name and that the package is "
                "installed or on the pythonpath)")

    def stop(self) -> None:
        if self._owned and self._cov is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._cov.stop()
                self._cov.get_data()  # flushes, and adds never-imported files of `source`
            self._remember(caught)
            self._owned = False  # stopped: stop() is idempotent

    def _remember(self, caught: list[warnings.WarningMessage]) -> None:
        """coverage.py's own warnings are the gate's to report; any other warning caught while
        coverage started or stopped (the app's: a coroutine garbage-collected then) goes on to
        Python's warning machinery, as if the gate had not caught it."""
        from coverage.exceptions import CoverageWarning

        for warning in caught:
            text = str(warning.message)
            if issubclass(warning.category, CoverageWarning):
                if text not in self._coverage_warnings:
                    self._coverage_warnings.append(text)
                continue
            try:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno,
                                       source=warning.source)
            except Warning:  # the warning filters make it an error: not the gate's to raise
                shown = (f"a warning of the application, not coverage.py's, came while coverage.py started or "
                         f"stopped: {warning.category.__name__}: {text} ({warning.filename}:{warning.lineno})")
                if shown not in self._other_warnings:
                    self._other_warnings.append(shown)

    def worker_output(self) -> Any:
        users = greenlet_users()
        shape = {"deselected": self._shape.deselected,
                 "imported_early": [[m.name, m.path] for m in self._imported_early]}
        if self._measured_by != "coverage.py" or self._cov is None:  # pytest-cov combines its own worker data
            return {"data": None, "warnings": [], "other_warnings": self._other_warnings, "greenlet_users": users,
                    **shape}
        return {"data": self._cov.get_data().dumps(), "warnings": self._coverage_warnings,
                "other_warnings": self._other_warnings, "greenlet_users": users, **shape}

    def absorb_worker_output(self, data: Any) -> None:
        if data["data"] is not None:
            self._worker_blobs.append(data["data"])
        for text in data["warnings"]:
            if text not in self._worker_warnings:
                self._worker_warnings.append(text)
        for text in data["other_warnings"]:
            if text not in self._other_warnings:
                self._other_warnings.append(text)
        self._worker_greenlet_users.update(data["greenlet_users"])
        self._shape.absorb_worker_deselected(int(data.get("deselected", 0)))
        for name, path in data.get("imported_early", ()):
            if all(m.name != name for m in self._imported_early):
                self._imported_early.append(EarlyModule(name, path))

    def _greenlet_warning(self, cov: Any) -> str | None:
        """Greenlets in use, measured without following them: what to add, or None."""
        users = sorted(set(greenlet_users()) | self._worker_greenlet_users)
        concurrency = list(cov.get_option("run:concurrency") or []) if cov is not None else []
        if not users or any(name in concurrency for name in FOLLOWS_GREENLETS):
            return None
        if self._owned or self._measured_by == "coverage.py":
            fix = 'core = "sysmon" cannot follow greenlets: remove it from [tool.coverage.run]'
            if cov is None or cov.get_option("run:core") != "sysmon":
                fix = f"add {GREENLET_LINE} to [tool.coverage.run] in pyproject.toml"
        else:
            fix = f"add {GREENLET_LINE} to [tool.coverage.run] in pyproject.toml"
            if self._measured_by == "coverage run":
                fix += " (or run coverage run --concurrency=thread,greenlet)"
        return (f"greenlet is in use ({', '.join(users)} {'is' if len(users) == 1 else 'are'} loaded) and "
                f"{self._measured_by} measured without greenlet concurrency: coverage.py misses lines run after "
                f"a switch between greenlets (after an awaited query), so the figures may be too low; {fix}")

    # -- deciding ----------------------------------------------------------
    def _report_source(self) -> Any:
        if self._measured_by == "pytest-cov":
            plugin = _pytest_cov_plugin(self.context.pytest_config)
            return plugin.cov_controller.cov if plugin is not None and plugin.cov_controller else None
        return self._cov

    def _read_files(self) -> tuple[list[FileCoverage], dict[str, Any]]:
        from coverage import CoverageData
        from coverage.exceptions import NoDataError

        cov = self._report_source()
        if cov is None:
            raise _CannotMeasure("coverage.py was not measuring this run")
        for blob in self._worker_blobs:
            worker_data = CoverageData(no_disk=True)
            worker_data.loads(blob)
            cov.get_data().update(worker_data)
        # The xdist controller runs no test: its own "no data collected" is no news; nor is a
        # worker's (one that ran no test of the measured code) when the combined data has some.
        if self._worker_blobs:
            some_data = bool(cov.get_data().measured_files())
            self._coverage_warnings = [text for text in self._worker_warnings
                                       if not (some_data and "(no-data-collected)" in text)]
        self._worker_blobs.clear()
        self._has_arcs = cov.get_data().has_arcs()
        include = None
        if self._measured_by != "coverage.py" and self.settings.source:
            dirs = [self.context.rootpath / entry for entry in self.settings.source]
            include = [str(d / "*") for d in dirs if d.is_dir()] or None
        fd, report_path = tempfile.mkstemp(suffix=".json", prefix="backend-gates-coverage-")
        os.close(fd)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    cov.json_report(outfile=report_path, include=include)
                except NoDataError as exc:
                    raise _CannotMeasure(f"coverage.py has no data to report ({exc})") from None
            self._remember(caught)
            report = json.loads(Path(report_path).read_text())
        finally:
            Path(report_path).unlink(missing_ok=True)  # coverage.py removes it when it has no data
        return [self._file(name, info) for name, info in sorted(report["files"].items())], report["totals"]

    def _shown_path(self, name: str) -> str:
        """Relative to rootdir where possible, with forward slashes."""
        path = Path(name)
        if not path.is_absolute():
            path = Path.cwd() / path
        try:
            return path.resolve().relative_to(self.context.rootpath.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    def _file(self, name: str, info: dict[str, Any]) -> FileCoverage:
        shown = self._shown_path(name)
        summary = info["summary"]
        return FileCoverage(
            path=shown,
            percent=float(summary["percent_covered"]),
            statements=int(summary["num_statements"]),
            missing_lines=tuple(info.get("missing_lines", ())),
            executed_lines=tuple(info.get("executed_lines", ())),
            missing_branches=tuple(tuple(pair) for pair in info.get("missing_branches", ())),
        )

    def evaluate(self) -> GateResult:
        from pytest_backend_gates.gates.coverage.run_shape import not_judged

        result = self._evaluate()
        if self._imported_early:
            return early_import_error(self.name, sorted(self._imported_early, key=lambda m: m.name),
                                      self.context.pytest_config.invocation_params.args, result)
        reasons = self._shape.partial_reasons()
        return not_judged(result, reasons) if reasons else result

    def _evaluate(self) -> GateResult:
        self.stop()
        try:
            files, totals = self._read_files()
        except _CannotMeasure as exc:
            result = GateResult.error(self.name, f"could not measure coverage: {exc}{self._missing_source_text()}")
            result.warnings = [f"coverage.py: {text}" for text in self._coverage_warnings]  # they name the module
            return result
        settings = self.settings
        violations: list[Violation] = []
        warnings_out = [f"coverage.py: {text}" for text in self._coverage_warnings] + self._other_warnings
        total = float(totals["percent_covered"])
        measured: dict[str, Any] = {"total": floor2(total), "files": len(files), "measured_by": self._measured_by}
        cov = self._report_source()
        if cov is not None:
            measured["concurrency"] = list(cov.get_option("run:concurrency") or []) or ["thread"]
        if self._greenlet_added and self._greenlet_evidence is not None:  # why the gate chose it
            measured["greenlet_found_in"] = self._shown_path(self._greenlet_evidence)
        greenlet_warning = self._greenlet_warning(cov)
        if greenlet_warning is not None:
            warnings_out.append(greenlet_warning)
        # appended to each minimum that is not met: the figure it judged may be the cause
        under_measured = f"; {greenlet_warning}" if greenlet_warning is not None else ""
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
                    message=f"total coverage {percent_text(total)} is under the minimum {settings.total:g}% "
                    f"({kind}; {totals['covered_lines']} of {totals['num_statements']} statements covered)"
                    + (f"; least covered: {lowest}" if lowest else "") + under_measured,
                ))

        if settings.branch and not self._has_arcs:
            return GateResult.error(
                self.name,
                f"branch = true, but {self._measured_by} measured without branch coverage; "
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
                    file_violations.append(Violation(
                        where=file.path,
                        check="coverage-file",
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
                        f"(paths are relative to {self.context.rootpath}, e.g. {files[0].path if files else 'src/pkg/mod.py'!r})"
                    )
            under = len(file_violations)
            summary_parts.append(f"{under} of {matched} files under their minimum")

        if not threshold:
            warnings_out.append("no minimum is set (total, branches or files): coverage is reported, nothing is enforced")
        return GateResult(
            gate=self.name,
            status=Status.FAILED if violations else Status.PASSED,
            summary=", ".join(summary_parts),
            violations=violations,
            warnings=warnings_out,
            measured=measured,
            threshold=threshold,
        )


class _CannotMeasure(Exception):
    pass
