"""The shape every benchmark script shares (a helper, not a benchmark: `dev.py bench` skips `_*.py`).

Each script prints its human summary as before and, given ``--json PATH``, also writes what it
measured there, for ``python3 dev.py bench`` to render into docs/benchmarks.md:

    {"benchmark": "passive_overhead",            # the script's stem
     "title": "Passive overhead",
     "command": ".venv/bin/python benchmarks/passive_overhead.py --pairs 15",
     "quick": false,                             # run with --quick (the smallest settings)?
     "started": "2026-12-07T15:43:08Z", "duration_s": 93.2,
     "machine": {"cpus": 2, "cpu_model": "...", "os": "...", "python": "3.11.7",
                 "load_average_start": [0.8, 1.2, 1.5], "load_average_end": [...]},
     "settings": {"pairs": 15, ...},             # every option the run used
     "summary": ["median(A)/median(B) = 1.004 ...", ...],   # the key figures, one sentence each
     "tables": [{"title": "...", "columns": [...], "rows": [[...], ...], "notes": [...]}],
     "figures": {...}}                           # the same numbers, for machines

`command` is the command line as run from the repository root, without the ``--json PATH``
option itself (it only says where this file goes). `--quick` is every script's own smallest
setting, for development on a shared machine: its figures are smoke-level, and say so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark has: --json PATH and --quick."""
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--quick", action="store_true",
                        help="the smallest settings (development on a shared machine; figures are smoke-level)")


def quick_defaults(args: argparse.Namespace, parser: argparse.ArgumentParser, **small: Any) -> None:
    """With --quick, each option in `small` that the command line left at its default takes the small value
    (an option given explicitly wins, so `--quick --pairs 5` runs 5 pairs)."""
    if not args.quick:
        return
    for name, value in small.items():
        if getattr(args, name) == parser.get_default(name):
            setattr(args, name, value)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the figures were measured on; the load average matters on a shared machine."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": os.cpu_count(), "usable_cpus": usable, "cpu_model": _cpu_model(), "os": platform.platform(),
            "python": platform.python_version(), "load_average_start": [round(x, 2) for x in os.getloadavg()]}


def _shown(path: str) -> str:
    """A path as typed from the repository root when it is inside it, else as it is."""
    try:
        return str(Path(path).resolve().relative_to(REPO)) if Path(path).is_absolute() else path
    except ValueError:
        return path


def command_line(argv: list[str] | None = None) -> str:
    """The command that ran this script, from the repository root, without `--json PATH`."""
    argv = list(sys.argv if argv is None else argv)
    script, rest = argv[0], argv[1:]
    kept: list[str] = []
    skip = False
    for arg in rest:
        if skip:
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        if arg.startswith("--json="):
            continue
        kept.append(arg)
    # sys.executable is how the script was started; the venv's python is what `dev.py bench` uses.
    return shlex.join([_shown(sys.executable), _shown(script), *kept])


class Run:
    """One run of a benchmark: its machine, date, command and settings, then its figures.

    Created at the start (the date and the load average are the start's), filled by the script,
    written by `write()` when --json was given."""

    def __init__(self, name: str, title: str, args: argparse.Namespace, **settings: Any) -> None:
        self.name, self.title, self.args = name, title, args
        self.started = datetime.datetime.now(datetime.UTC)
        self.t0 = time.monotonic()
        self.machine = machine()
        self.command = command_line()
        self.settings = {k: _plain(v) for k, v in vars(args).items() if k not in ("json", "quick")}
        self.settings.update({k: _plain(v) for k, v in settings.items()})
        self.summary: list[str] = []
        self.tables: list[dict[str, Any]] = []
        self.figures: dict[str, Any] = {}

    def line(self, text: str) -> None:
        """A key figure: printed now, and one bullet in docs/benchmarks.md."""
        print(text, flush=True)
        self.summary.append(text)

    def table(self, title: str, columns: list[str], rows: list[list[Any]], notes: list[str] | None = None) -> None:
        self.tables.append({"title": title, "columns": columns, "rows": [[_plain(c) for c in r] for r in rows],
                            "notes": list(notes or [])})

    def as_dict(self) -> dict[str, Any]:
        machine_ = dict(self.machine, load_average_end=[round(x, 2) for x in os.getloadavg()])
        return {"benchmark": self.name, "title": self.title, "command": self.command, "quick": bool(self.args.quick),
                "started": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_s": round(time.monotonic() - self.t0, 1), "machine": machine_,
                "settings": self.settings, "summary": self.summary, "tables": self.tables,
                "figures": _plain(self.figures)}

    def write(self) -> None:
        if self.args.json is None:
            return
        path = Path(self.args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=1) + "\n")
        tmp.replace(path)  # never half a file for dev.py bench to read


def _plain(value: Any) -> Any:
    """JSON-safe: paths as text, tuples as lists, floats rounded to what is worth reading."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value
