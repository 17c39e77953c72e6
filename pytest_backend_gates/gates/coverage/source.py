"""The coverage table's `source`: directories resolved against the rootdir, package names left
to coverage.py, where the measured code is (found without importing it), and entries that name nothing."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_backend_gates.redaction import Redactor


def resolved_source(source: Sequence[str], rootpath: Path, redactor: Redactor) -> list[str] | None:
    """Directories resolved against rootdir; anything else is a package name for coverage.py."""
    resolved = []
    for entry in source:
        path = rootpath / entry
        if path.exists():
            resolved.append(str(path))
        elif "/" in entry or os.sep in entry or entry.endswith(".py"):
            shown = redactor.redact(entry)
            raise pytest.UsageError(
                f"[tool.backend-gates.coverage] source: {shown!r} does not exist under {rootpath}; "
                "expected a directory (relative to the rootdir) or an importable package name"
            )
        else:
            resolved.append(entry)
    return resolved or None


def source_paths(source: Sequence[str], rootpath: Path) -> list[Path]:
    """Where the measured code is: the source directories, a source package's directory
    (found without importing it), or the rootdir when no source is set."""
    if not source:
        return [rootpath]
    paths = []
    for entry in source:
        path = rootpath / entry
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


def missing_source_text(source: Sequence[str], rootpath: Path, redactor: Redactor) -> str:
    """'; source 'shopp' is neither a directory under ROOT nor an importable package' for each
    entry of `source` that names nothing (no data is then the consequence, not the cause)."""
    missing = []
    for entry in source:
        if (rootpath / entry).exists():
            continue
        try:
            found = importlib.util.find_spec(entry) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(repr(redactor.redact(entry)))
    if not missing:
        return ""
    return (f"; [tool.backend-gates.coverage] source {', '.join(missing)}: neither a directory under "
            f"{rootpath} nor an importable package (check the name and that the package is "
            "installed or on the pythonpath)")
