"""`baseline = PATH` and `ignore = [{gate, check, where, reason}]` of `[tool.backend-gates]`."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_backend_gates.text import did_you_mean

if TYPE_CHECKING:
    from pytest_backend_gates.toml_table import Table

IGNORE_KEYS = ("gate", "check", "where", "reason")


@dataclass(frozen=True)
class IgnoreRule:
    """Violations to accept: each of gate, check and where is a glob (absent: any)."""

    reason: str
    gate: str = "*"
    check: str = "*"
    where: str = "*"
    index: int = 0  # position in the list, to name it in warnings

    def matches(self, gate: str, check: str, where: str) -> bool:
        return (fnmatch.fnmatchcase(gate, self.gate) and fnmatch.fnmatchcase(check, self.check)
                and fnmatch.fnmatchcase(where, self.where))

    @property
    def shown(self) -> str:
        parts = [f'{key} = "{getattr(self, key)}"' for key in ("gate", "check", "where") if getattr(self, key) != "*"]
        return f"ignore[{self.index}] {{ {', '.join(parts)} }}"


@dataclass(frozen=True)
class AcceptanceSettings:
    baseline: Path | None = None
    ignores: tuple[IgnoreRule, ...] = field(default_factory=tuple)


def parse_acceptance(root: Table, gate_names: Sequence[str],
                     table_of: Callable[[str, Any], Table]) -> AcceptanceSettings:
    """Read `baseline` and `ignore` from the root table; problems are collected in it."""
    baseline_text = root.string("baseline")
    baseline: Path | None = None
    if baseline_text is not None:
        if not baseline_text.strip():
            root.error("baseline", baseline_text, "is empty; expected a file path such as "
                       "'.backend-gates/baseline.json' (or leave the key out for no baseline)")
        elif root.base is not None:
            baseline = root.base / baseline_text
        else:
            baseline = Path(baseline_text)
    raw = root.raw("ignore")
    rules: list[IgnoreRule] = []
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
            root.error("ignore", raw, 'is not a list of tables; expected e.g. ignore = [{ gate = "security", '
                       'check = "header-missing", where = "GET /health", reason = "probe endpoint, no body" }]')
        else:
            for index, entry in enumerate(raw):
                rule = _parse_rule(table_of(f"ignore[{index}]", entry), index, gate_names)
                if rule is not None:
                    rules.append(rule)
    return AcceptanceSettings(baseline=baseline, ignores=tuple(rules))


def _parse_rule(table: Table, index: int, gate_names: Sequence[str]) -> IgnoreRule | None:
    before = table.error_count
    reason = table.string("reason")
    if reason is None and not table.has("reason"):
        table.missing("reason", "why this is accepted, e.g. reason = \"probe endpoint, no body\" "
                      "(an ignore without a reason is never reviewed again)")
    elif reason is not None and not reason.strip():
        table.error("reason", reason, "is empty; say why this is accepted")
    globs = {key: table.string(key, "*") or "*" for key in ("gate", "check", "where")}
    gate = globs["gate"]
    if not any(ch in gate for ch in "*?[") and gate not in gate_names:
        table.error("gate", gate, f"is not a gate; {did_you_mean(gate, list(gate_names))}"
                    f"gates: {', '.join(gate_names)} (or a glob)")
    if all(value == "*" for value in globs.values()):
        table.problem("gate", "an entry without gate, check or where would accept every violation; "
                      "name at least one of them")
    table.finish(IGNORE_KEYS)
    if table.error_count != before or reason is None:
        return None
    return IgnoreRule(reason=reason.strip(), index=index, **globs)
