"""One finding per operation, with the concrete paths it was seen on.

A finding is keyed by its operation template ('GET /users/{user_id}'), so one defect seen on 31
users is one finding, not 31; it keeps a few of the concrete paths ('/users/1000', ...) and how
many there were, so the message still says where to look.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

MAX_PATHS_KEPT = 100  # distinct concrete paths kept per finding (more are counted as "100+")
EXAMPLES_SHOWN = 3


def concrete_path(url: str) -> str:
    return urlsplit(url).path or "/"


def add_path(finding: dict[str, Any], path: str) -> None:
    """Remember `path` on the finding, unless it is the operation's own path (nothing to show)."""
    if finding["where"].partition(" ")[2] == path:
        return
    paths = finding.setdefault("paths", [])
    if path not in paths and len(paths) < MAX_PATHS_KEPT:
        paths.append(path)


def merge_paths(into: dict[str, Any], other: dict[str, Any]) -> None:
    for path in other.get("paths", ()):
        add_path(into, path)


def paths_text(finding: dict[str, Any]) -> str:
    """'; on 31 paths, e.g. /users/1000, /users/1020, /users/1040' (empty when none differs)."""
    paths = finding.get("paths") or []
    if not paths:
        return ""
    if len(paths) == 1:
        return f", all on {paths[0]}"
    count = f"{len(paths)}+" if len(paths) >= MAX_PATHS_KEPT else str(len(paths))
    return f"; on {count} paths, e.g. {', '.join(paths[:EXAMPLES_SHOWN])}"


def paths_details(finding: dict[str, Any]) -> dict[str, Any]:
    paths = finding.get("paths") or []
    return {"paths": len(paths), "path_examples": paths[:EXAMPLES_SHOWN]} if paths else {}
