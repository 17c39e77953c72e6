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

import importlib.util
import json
import os
import tempfile
import warnings
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
from pytest_backend_gates.gates.coverage.diff import judge_diff
from pytest_backend_gates.gates.coverage.figures import FileCoverage, floor2
from pytest_backend_gates.gates.coverage.greenlets import (
    greenlet_user_in,
    greenlet_users,
    greenlet_warning,
)
from pytest_backend_gates.gates.coverage.partial import not_judged
from pytest_backend_gates.gates.coverage.source import (
    missing_source_text,
    resolved_source,
    source_paths,
)
from pytest_backend_gates.gates.coverage.thresholds import judge_thresholds
from pytest_backend_gates.result import GateResult
from pytest_backend_gates.run_shape import RunShape
from pytest_backend_gates.settings import CoverageSettings


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
        self._shape = RunShape(context.pytest_config)

    # -- measuring ---------------------------------------------------------
    def _source(self) -> list[str] | None:
        return resolved_source(self.settings.source, self.context.rootpath, self.context.config.redactor)

    def start(self) -> None:
        # coverage.py (third-party, heavy) is imported here and below, when it is used, not with the gate class
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
        self._greenlet_evidence = greenlet_user_in(source_paths(self.settings.source, self.context.rootpath))
        if self._greenlet_evidence is None:
            return False
        cov.set_option("run:concurrency", ["thread", "greenlet"])
        return True

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
            missing = missing_source_text(self.settings.source, self.context.rootpath, self.context.config.redactor)
            result = GateResult.error(self.name, f"could not measure coverage: {exc}{missing}")
            result.warnings = [f"coverage.py: {text}" for text in self._coverage_warnings]  # they name the module
            return result
        warnings_out = [f"coverage.py: {text}" for text in self._coverage_warnings] + self._other_warnings
        total = float(totals["percent_covered"])
        measured: dict[str, Any] = {"total": floor2(total), "files": len(files), "measured_by": self._measured_by}
        cov = self._report_source()
        if cov is not None:
            measured["concurrency"] = list(cov.get_option("run:concurrency") or []) or ["thread"]
        if self._greenlet_added and self._greenlet_evidence is not None:  # why the gate chose it
            measured["greenlet_found_in"] = self._shown_path(self._greenlet_evidence)
        unfollowed = greenlet_warning(cov, self._worker_greenlet_users, owned=self._owned, measured_by=self._measured_by)
        if unfollowed is not None:
            warnings_out.append(unfollowed)
        # appended to each minimum that is not met: the figure it judged may be the cause
        under_measured = f"; {unfollowed}" if unfollowed is not None else ""
        result = judge_thresholds(self.name, self.settings, files, totals, measured=measured,
                                  warnings_out=warnings_out, under_measured=under_measured, has_arcs=self._has_arcs,
                                  measured_by=self._measured_by, rootpath=self.context.rootpath)
        if self.settings.diff is None:
            return result
        return judge_diff(result, self.settings.diff, files, self.context.rootpath)


class _CannotMeasure(Exception):
    pass
