"""Latency baselines (regression mode): our own JSON file at the rootdir, written by the controller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.files import atomic_write_text

BASELINE_FILE = Path(".backend-gates") / "latency-baseline.json"
BASELINE_VERSION = 1
BASELINE_KEEP = 200  # samples kept per baseline entry


def read_baseline(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["entries"]
        if data.get("version") != BASELINE_VERSION or not isinstance(entries, dict):
            raise ValueError("unknown format")
        for entry in entries.values():
            if not entry["samples"] or not all(isinstance(v, (int, float)) for v in entry["samples"]):
                raise ValueError("an entry has no samples")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise pytest.UsageError(f"[tool.backend-gates.latency] regression: {path} is not a latency baseline written "
                                f"by pytest-backend-gates ({exc}); delete it and a new one is recorded") from None
    return entries


def write_baseline(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    data = {"version": BASELINE_VERSION,
            "about": "latency baselines of pytest-backend-gates (regression mode); delete an entry to re-record it",
            "entries": entries}
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
