"""The JSON report (SPEC section 5), written atomically: to a temporary file in the same folder,
then renamed over the target, so a reader never sees half a file, even when the run was interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_backend_gates.files import atomic_write_text
from pytest_backend_gates.result import GateResult

REPORT_VERSION = 1


def report_data(results: list[GateResult], *, interrupted: bool, workers: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": REPORT_VERSION,
        "passed": not any(r.status.fails_run for r in results),
        "gates": [r.to_json() for r in results],
        # extensions (docs/report.md)
        "interrupted": interrupted,
    }
    if workers:
        data["xdist_workers"] = workers
    return data


def write_json_report(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
