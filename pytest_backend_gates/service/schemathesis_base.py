"""A project's `schemathesis.toml`: the base of the engine settings of every gate that fuzzes.

Teams that already run schemathesis keep their configuration there (auth, checks, generation,
per-operation settings). It is found as schemathesis finds it: `schemathesis.toml` in pytest's
rootdir or a parent, stopping at a folder with `.git`. The `[tool.backend-gates.contract]` keys
the user wrote override it; keys the user did not write leave it as it is. What the gates must
control for their verdicts always wins: the seed, which phases run in which item, continuing
after a failure, no cache, no sanitization (the gates redact to `${VAR}` themselves), the
base URL of the target and the hostile-input dictionary.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_backend_gates.service.target import TargetError

FILE_NAME = "schemathesis.toml"


def find_project_config(rootpath: Path) -> Path | None:
    folder = rootpath.resolve()
    while True:
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
        if (folder / ".git").is_dir() or folder.parent == folder:
            return None
        folder = folder.parent


def read_project_config(rootpath: Path | None) -> tuple[dict[str, Any], Path | None]:
    """The project's schemathesis.toml as data ({} without one); TargetError names a broken file."""
    path = find_project_config(rootpath) if rootpath is not None else None
    if path is None:
        return {}, None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"{path} (the base of the contract gate's settings) cannot be read: {exc}") from None


def merge(base: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `ours` laid over it, table by table (a value of ours replaces base's)."""
    merged = dict(base)
    for key, value in ours.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
