"""Was this a whole run? The coverage gate judges a whole run only (docs/coverage.md, "Partial runs"),
and only a whole run tells that a baseline entry is no longer seen (acceptance/judge.py).

A run is partial when, on this command line (the ini file's `addopts` and PYTEST_ADDOPTS
define what a whole run is, so a permanent `-m "not slow"` there is not partial):
- `-k`, `-m`, `--deselect` or `--sw` deselected tests;
- `--lf` re-ran the failures remembered from the last run;
- the test paths or node ids given leave out part of `testpaths` (the rootdir without it);
- it stopped before every selected test ran: `-x`/`--maxfail`, an interruption.
Under xdist the workers deselect; they send their count with the coverage gate's data.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

SELECTION_OPTIONS = (("keyword", "-k"), ("markexpr", "-m"), ("deselect", "--deselect"), ("stepwise", "--sw"))


class RunShape:
    """Registered as a plugin (by the run, and by the coverage gate): counts what was deselected and what ran."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.deselected = 0
        self.finished: set[str] = set()
        self.session: pytest.Session | None = None
        self.interrupted = False

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self.finished.add(report.nodeid)

    def absorb_worker_deselected(self, count: int) -> None:
        # every worker collects and deselects the same items: the largest count, not the sum
        self.deselected = max(self.deselected, count)

    def partial_reasons(self) -> list[str]:
        """Why this run is not the whole test suite; [] for a whole run."""
        config = self.config
        given = command_line_options(config)
        reasons = []
        used = [flag for dest, flag in SELECTION_OPTIONS if given.get(dest)]
        if used and self.deselected:
            reasons.append(f"{'/'.join(used)} deselected {self.deselected} test{'s' * (self.deselected != 1)}")
        if config.getoption("lf", False) and _last_failed(config):
            reasons.append("--lf re-ran only the tests that failed last time")
        narrower = narrower_paths(config)
        if narrower:
            reasons.append(narrower)
        session = self.session
        collected = session.testscollected if session is not None else 0
        if collected and len(self.finished) < collected:
            maxfail = int(config.getoption("maxfail", 0) or 0)
            if self.interrupted:
                why = "interrupted"
            elif session is not None and session.shouldstop:
                why = str(session.shouldstop)
            elif session is not None and maxfail and session.testsfailed >= maxfail:
                why = f"stopped after {session.testsfailed} failure{'s' * (session.testsfailed != 1)}: -x/--maxfail"
            else:
                why = "the run ended early"
            reasons.append(f"{len(self.finished)} of {collected} selected tests ran ({why})")
        return reasons


def command_line_options(config: pytest.Config) -> dict[str, Any]:
    """The selection options of the command line alone (not addopts, not PYTEST_ADDOPTS)."""
    args = [str(a) for a in config.invocation_params.args]
    parser = getattr(config, "_parser", None)  # pytest's own, to read the options as pytest does
    if parser is not None:
        try:
            namespace = parser.parse_known_args(args)
            return {dest: getattr(namespace, dest, None) for dest, _ in SELECTION_OPTIONS}
        except BaseException:  # noqa: BLE001 - argparse exits on bad input: read the tokens instead
            pass
    found: dict[str, Any] = {}
    for dest, flag in SELECTION_OPTIONS:
        found[dest] = any(a == flag or a.startswith(flag + "=") or (len(flag) == 2 and a.startswith(flag))
                          for a in args)
    return found


def _last_failed(config: pytest.Config) -> bool:
    plugin = config.pluginmanager.get_plugin("lfplugin")
    return bool(getattr(plugin, "lastfailed", None))


def _command_line_paths(config: pytest.Config) -> list[str] | None:
    """The test paths and node ids this command line chose, or None when it chose none."""
    invocation = {str(a) for a in config.invocation_params.args}
    source = getattr(config, "args_source", None)
    if source == pytest.Config.ArgsSource.ARGS:
        chosen = [a for a in config.args if a in invocation]
        return chosen or None
    if source == pytest.Config.ArgsSource.INVOCATION_DIR:
        return [str(config.invocation_params.dir)]
    return None


def narrower_paths(config: pytest.Config) -> str | None:
    """A reason when the paths given leave out part of the whole run (testpaths, else the rootdir)."""
    if config.getoption("pyargs", False):
        return None  # module names: not compared
    chosen = _command_line_paths(config)
    if not chosen:
        return None
    root = config.rootpath
    testpaths = list(config.getini("testpaths") or [])
    whole = [Path(p).resolve() for pattern in testpaths for p in sorted(glob.glob(str(root / pattern), recursive=True))]
    whole = whole or [root.resolve()]
    invocation_dir = config.invocation_params.dir
    covering = [(invocation_dir / a).resolve() for a in chosen if "::" not in a]
    left_out = [w for w in whole if not any(c == w or c in w.parents for c in covering)]
    if not left_out:
        return None
    shown = ", ".join(_shown(Path(a) if "::" in a else (invocation_dir / a).resolve(), root, a) for a in chosen[:3])
    whole_text = "testpaths " + ", ".join(testpaths) if testpaths else "the rootdir"
    return f"only {shown}{' ...' if len(chosen) > 3 else ''} of the whole run ({whole_text})"


def _shown(path: Path, root: Path, given: str) -> str:
    if "::" in given:
        return given
    try:
        return path.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return given
