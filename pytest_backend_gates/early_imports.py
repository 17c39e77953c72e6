"""What the project had imported before the gates started (docs/configuration.md, "When the gates start").

The gates start in `pytest_load_initial_conftests`, ahead of pytest's own import of the
conftest.py files. Code loaded before that hook cannot be measured from its first line:
a plugin given with `-p` or `PYTEST_PLUGINS`, or another installed plugin, that imports the
application. Its module-level lines then count as not covered (the coverage figure is too
low), and a sqlite3 connection it opened is not counted by the queries gate (a budget met
with nothing counted). The gates name the modules instead of judging what they did not see.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_backend_gates.result import GateResult

OWN_PACKAGE = __name__.split(".")[0]


@dataclass(frozen=True)
class EarlyModule:
    name: str
    path: str  # relative to rootdir, with forward slashes


def _in_environment(path: Path) -> bool:
    """Installed code (a virtual environment, site-packages), not the project's."""
    parts = set(path.parts)
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    return any((parent / "pyvenv.cfg").exists() for parent in path.parents if parent != parent.parent)


def project_modules(rootpath: Path) -> list[EarlyModule]:
    """The project's modules (files under the rootdir, not installed ones, not this plugin's) imported now."""
    root = rootpath.resolve()
    found = []
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if not filename or name.split(".")[0] == OWN_PACKAGE or name == "__main__":
            continue
        try:
            path = Path(filename).resolve()
            relative = path.relative_to(root)
        except (OSError, ValueError):
            continue
        if _in_environment(path):
            continue
        found.append(EarlyModule(name, relative.as_posix()))
    return sorted(found, key=lambda m: m.name)


def in_coverage_source(modules: list[EarlyModule], rootpath: Path, source: list[str]) -> list[EarlyModule]:
    """Of `modules`, those coverage.py measures: under a source directory or in a source package
    (everything under the rootdir when no source is set, as coverage.py does)."""
    if not source:
        return list(modules)
    dirs = [(rootpath / entry).resolve() for entry in source if (rootpath / entry).exists()]
    packages = [entry for entry in source if not (rootpath / entry).exists()]
    chosen = []
    for module in modules:
        path = (rootpath / module.path).resolve()
        if any(path == d or d in path.parents for d in dirs) or any(
                module.name == p or module.name.startswith(p + ".") for p in packages):
            chosen.append(module)
    return chosen


def open_sqlite_connections(modules: list[EarlyModule]) -> list[str]:
    """`module.NAME` for each sqlite3 connection a module holds in a global: opened before the
    queries gate wrapped `sqlite3.connect`, its statements are never counted."""
    found = []
    for module in modules:
        namespace = getattr(sys.modules.get(module.name), "__dict__", {})
        for key, value in list(namespace.items()):
            if isinstance(value, sqlite3.Connection) and not getattr(value, "_backend_gates_counting", False):
                found.append(f"{module.name}.{key}")
    return found


def loaded_by(args: Sequence[str]) -> str:
    """Where such an early import usually comes from, for the message: the -p and PYTEST_PLUGINS
    plugins of this run (`args`: its command line) when there are some."""
    plugins = [a for a in _dash_p([str(a) for a in args]) if not a.startswith("no:")]
    env = [p.strip() for p in os.environ.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
    named = [f"-p {p}" for p in plugins] + [f"PYTEST_PLUGINS={','.join(env)}"] * bool(env)
    if named:
        return f"by a plugin loaded before the gates ({', '.join(named)})"
    return "by something loaded before the gates (a -p or PYTEST_PLUGINS plugin, or another installed plugin)"


def _dash_p(args: list[str]) -> list[str]:
    found = []
    for index, arg in enumerate(args):
        if arg == "-p" and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--"):
            found.append(arg[2:])
    return found


def names(modules: list[EarlyModule], limit: int = 5) -> str:
    shown = ", ".join(f"{m.name} ({m.path})" for m in modules[:limit])
    return shown + (f" and {len(modules) - limit} more" if len(modules) > limit else "")


def early_connections_reason(connections: list[str], args: Sequence[str]) -> str:
    shown = ", ".join(connections[:5]) + (f" and {len(connections) - 5} more" if len(connections) > 5 else "")
    modules = ", ".join(sorted({c.rsplit(".", 1)[0] for c in connections}))
    one = len(connections) == 1
    return (f"sqlite3 connection{'' if one else 's'} {shown} {'was' if one else 'were'} opened before the queries "
            f"gate started ({modules} imported {loaded_by(args)}), so the statements run on "
            f"{'it' if one else 'them'} are not counted; import the application from conftest.py or the tests "
            "instead (the gates start before conftest.py files are imported)")


def early_import_error(gate: str, modules: list[EarlyModule], args: Sequence[str], result: GateResult) -> GateResult:
    """The coverage result when measured code was imported before measuring began: its module-level
    lines (imports, def and class lines) count as not covered, every figure is too low: an error."""
    one = len(modules) == 1
    reason = (f"{names(modules)} {'was' if one else 'were'} imported before coverage measurement started, "
              f"{loaded_by(args)}, so {'its' if one else 'their'} module-level lines count as not covered and the "
              "figures are too low; import the application from conftest.py or the tests instead (the gates start "
              "before conftest.py files are imported), or run the tests under `coverage run -m pytest`")
    error = GateResult.error(gate, reason)
    error.measured = {**result.measured, "imported_early": [m.name for m in modules]}
    error.warnings = list(result.warnings)
    return error
