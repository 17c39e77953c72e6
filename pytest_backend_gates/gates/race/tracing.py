"""What a race probe traces, and how it leaves the interpreter as it found it.

Only code of the project (files under the rootdir, outside site-packages, the
standard library and this plugin) is traced (:class:`OwnCode`): library internals
run at full speed and cannot be perturbed. What the hook cannot reach is in
docs/race.md. Shared by the stagger schedule (perturbation.py) and the controlled
one (scheduler.py).
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from pytest_backend_gates.location import PACKAGE_DIR

TraceFunction = Callable[[FrameType, str, Any], Any]

_PLUGIN_DIR = PACKAGE_DIR + os.sep


class OwnCode:
    """Which code objects belong to the project under test (and so get perturbed)."""

    def __init__(self, rootdir: Path | str) -> None:
        self.root = str(Path(rootdir).resolve()) + os.sep
        excluded = {_PLUGIN_DIR}
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            path = sysconfig.get_paths().get(key)
            if path:
                excluded.add(str(Path(path).resolve()) + os.sep)
        for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
            if not self.root.startswith(str(Path(prefix).resolve()) + os.sep):  # a venv inside the project
                excluded.add(str(Path(prefix).resolve()) + os.sep)
        self.excluded = tuple(excluded)
        self.verdicts: dict[CodeType, bool] = {}
        self._by_file: dict[str, bool] = {}

    def __contains__(self, code: CodeType) -> bool:
        own = self.verdicts.get(code)
        return self.judge(code) if own is None else own

    def judge(self, code: CodeType) -> bool:
        own = self._by_file.get(code.co_filename)
        if own is None:
            own = self._by_file[code.co_filename] = self._judge(code.co_filename)
        self.verdicts[code] = own
        return own

    def _judge(self, filename: str) -> bool:
        if not filename or filename.startswith("<"):
            return False
        try:
            path = os.path.realpath(filename)
        except (OSError, ValueError):
            return False
        if not path.startswith(self.root):
            return False
        if "site-packages" in path or "dist-packages" in path:
            return False
        return not any(path.startswith(prefix) for prefix in self.excluded)


class InterpreterSettings:
    """Saves the interpreter settings a probe changes and restores every one of them."""

    def __enter__(self) -> InterpreterSettings:
        self.switch_interval = sys.getswitchinterval()
        self.thread_trace = threading.gettrace()
        self.trace = sys.gettrace()
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setswitchinterval(self.switch_interval)
        threading.settrace(self.thread_trace)
        if sys.gettrace() is not self.trace:
            sys.settrace(self.trace)


class ProbeThread(threading.Thread):
    """A thread of a probe itself (as opposed to threads the probed code starts)."""


def reinstate(hook: TraceFunction) -> None:
    """Put the probe's hook back after the tracer it calls replaced it. coverage.py's C tracer,
    when called through `sys.settrace` (as the hook calls it), installs itself back "the C way"
    at every call event, for speed: without this, a probe under coverage (pytest-cov, the
    coverage gate) lost its hook at the first call and perturbed nothing."""
    sys.settrace(hook)
