"""Greenlets and coverage.py: whether the measured code runs in greenlets (its source, before
it is imported; the modules loaded, after) and what to add when it was measured without following them."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

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


def greenlet_warning(cov: Any, worker_users: set[str], *, owned: bool, measured_by: str) -> str | None:
    """Greenlets in use, measured without following them: what to add, or None."""
    users = sorted(set(greenlet_users()) | worker_users)
    concurrency = list(cov.get_option("run:concurrency") or []) if cov is not None else []
    if not users or any(name in concurrency for name in FOLLOWS_GREENLETS):
        return None
    if owned or measured_by == "coverage.py":
        fix = 'core = "sysmon" cannot follow greenlets: remove it from [tool.coverage.run]'
        if cov is None or cov.get_option("run:core") != "sysmon":
            fix = f"add {GREENLET_LINE} to [tool.coverage.run] in pyproject.toml"
    else:
        fix = f"add {GREENLET_LINE} to [tool.coverage.run] in pyproject.toml"
        if measured_by == "coverage run":
            fix += " (or run coverage run --concurrency=thread,greenlet)"
    return (f"greenlet is in use ({', '.join(users)} {'is' if len(users) == 1 else 'are'} loaded) and "
            f"{measured_by} measured without greenlet concurrency: coverage.py misses lines run after "
            f"a switch between greenlets (after an awaited query), so the figures may be too low; {fix}")
