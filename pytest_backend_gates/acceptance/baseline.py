"""The baseline file: accepted violations and figures that may not fall, as sorted, stable JSON.

```json
{"version": 1,
 "violations": [{"gate": "security", "check": "header-missing", "where": "GET /health",
                 "fingerprint": "3f2a...", "message": "first line, for the reviewer"}],
 "figures": {"coverage": {"total": 84.21}}}
```
The file is rewritten by `--backend-gates-update-baseline` only; its entries are sorted and its
messages cut to their first line, so that its diff in a pull request is reviewable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_backend_gates.errors import ConfigError
from pytest_backend_gates.files import atomic_write_text, unwritable_reason

BASELINE_VERSION = 1
# Figures of a gate's `measured` that a run may raise but not lower (the ratchet).
RATCHETED: dict[str, tuple[str, ...]] = {"coverage": ("total",)}
_MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class BaselineEntry:
    gate: str
    check: str
    where: str
    fingerprint: str
    message: str = ""

    def to_json(self) -> dict[str, str]:
        return {"gate": self.gate, "check": self.check, "where": self.where,
                "fingerprint": self.fingerprint, "message": self.message}

    @property
    def shown(self) -> str:
        return f"{self.where} [{self.check}]"


@dataclass(frozen=True)
class Baseline:
    path: Path
    entries: tuple[BaselineEntry, ...] = ()
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    exists: bool = True

    def by_fingerprint(self) -> dict[str, BaselineEntry]:
        return {entry.fingerprint: entry for entry in self.entries}


def load_baseline(path: Path) -> Baseline:
    """The baseline at `path`; a missing file is an empty baseline (the first run), a broken one
    a ConfigError naming the file and what is wrong."""
    if not path.exists():
        return Baseline(path=path, exists=False)
    where = f"[tool.backend-gates] baseline: {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{where}: cannot be read: {exc.strerror}"]) from None
    except ValueError as exc:
        raise ConfigError([f"{where}: is not valid JSON ({exc}); rewrite it with --backend-gates-update-baseline"]) \
            from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or \
            not isinstance(data.get("violations", []), list) or not isinstance(data.get("figures", {}), dict):
        raise ConfigError([f"{where}: is not a backend-gates baseline (version {BASELINE_VERSION}, a list of "
                           "violations); rewrite it with --backend-gates-update-baseline"])
    entries = []
    for index, raw in enumerate(data.get("violations", [])):
        if not isinstance(raw, dict) or not all(isinstance(raw.get(key), str) for key in ("gate", "check", "fingerprint")):
            raise ConfigError([f"{where}: violations[{index}] needs the strings gate, check and fingerprint; "
                               "rewrite the file with --backend-gates-update-baseline"])
        entries.append(BaselineEntry(gate=raw["gate"], check=raw["check"], where=str(raw.get("where", "")),
                                     fingerprint=raw["fingerprint"], message=str(raw.get("message", ""))))
    figures = {gate: {key: float(value) for key, value in values.items() if isinstance(value, (int, float))}
               for gate, values in data.get("figures", {}).items() if isinstance(values, dict)}
    return Baseline(path=path, entries=tuple(entries), figures=figures)


def baseline_text(entries: Iterable[BaselineEntry], figures: dict[str, dict[str, float]]) -> str:
    unique = {entry.fingerprint: entry for entry in entries}.values()
    ordered = sorted(unique, key=lambda e: (e.gate, e.check, e.where, e.fingerprint))
    data: dict[str, Any] = {
        "version": BASELINE_VERSION,
        "violations": [entry.to_json() for entry in ordered],
        "figures": {gate: dict(sorted(values.items())) for gate, values in sorted(figures.items()) if values},
    }
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_baseline(path: Path, entries: Iterable[BaselineEntry], figures: dict[str, dict[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, baseline_text(entries, figures))


def entry_message(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= _MESSAGE_LIMIT else first[: _MESSAGE_LIMIT - 1] + "…"


def baseline_for(path: Path | None, pyproject: Path | None, update: bool) -> Baseline | None:
    """The configured baseline, loaded; ConfigError when it is broken, or when it is to be
    written (--backend-gates-update-baseline) and there is no `baseline` key or cannot be."""
    if path is None:
        if update:
            raise ConfigError([f"--backend-gates-update-baseline: there is no baseline file to write; add "
                               f"baseline = \".backend-gates/baseline.json\" to [tool.backend-gates] in "
                               f"{pyproject or 'pyproject.toml'}"])
        return None
    problem = unwritable_reason(path) if update else None
    if problem is not None:
        raise ConfigError([f"baseline: {path} cannot be written (--backend-gates-update-baseline): {problem}"])
    return load_baseline(path)
