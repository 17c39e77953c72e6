"""`[tool.backend-gates]`: read once, validated, turned into typed settings (settings.py).

Nothing else in the plugin reads raw TOML. Every problem found is collected
and reported together as one :class:`ConfigError`, each line naming the table,
the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_backend_gates.acceptance.settings import (
    AcceptanceSettings,
    parse_acceptance,
)
from pytest_backend_gates.errors import ConfigError
from pytest_backend_gates.identity_settings import Identities, parse_identities
from pytest_backend_gates.redaction import Redactor
from pytest_backend_gates.text import did_you_mean
from pytest_backend_gates.toml_table import Table, shown_key

ROOT_TABLE = "tool.backend-gates"
TOP_LEVEL_KEYS = ("report", "identity", "identities", "baseline", "ignore")  # the rest of the section is gate tables
# The validated configuration of this pytest process (set by the run, or loaded on demand for a
# passive run's fixtures through GATES_CONFIG_LOADER_KEY, which the wiring sets).
GATES_CONFIG_KEY = pytest.StashKey["GatesConfig"]()
GATES_CONFIG_LOADER_KEY = pytest.StashKey[Callable[[], "GatesConfig"]]()

T = TypeVar("T")


# A table's parser, and the keys it allows (for "unknown key" / did-you-mean).
TableParser = Callable[["Table"], Any]


@dataclass(frozen=True)
class GatesConfig:
    """Everything in `[tool.backend-gates]`, validated."""

    path: Path | None  # the pyproject.toml it came from
    report: Path | None = None
    identities: Identities = field(default_factory=Identities)  # SPEC section 6
    acceptance: AcceptanceSettings = field(default_factory=AcceptanceSettings)  # SPEC section 7
    # gate name -> its settings object; only gates that have a table are present
    tables: Mapping[str, Any] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)

    def settings(self, gate: str) -> Any:
        """A gate's settings by its table name (third-party gates; built-in ones use `get`)."""
        return self.tables.get(gate)

    def get(self, kind: type[T]) -> T | None:
        """The settings of type `kind` (e.g. `RaceSettings`), or None when that table is absent."""
        for settings in self.tables.values():
            if isinstance(settings, kind):
                return settings
        return None


# --------------------------------------------------------------------------
# The whole section
# --------------------------------------------------------------------------


def find_pyproject(inipath: Path | None, rootpath: Path) -> Path | None:
    """pytest's inifile when it is a pyproject.toml, else the one at rootdir."""
    if inipath is not None and inipath.name == "pyproject.toml":
        return inipath
    candidate = rootpath / "pyproject.toml"
    return candidate if candidate.is_file() else None


def load_config(
    path: Path | None,
    parsers: Mapping[str, tuple[TableParser, tuple[str, ...]]],
    environ: Mapping[str, str] | None = None,
) -> GatesConfig:
    """Read and validate `[tool.backend-gates]` from `path` (None: empty); `parsers`: gate table
    name -> (parser, allowed keys), in report order (gates/registry.py gives the built-in ones)."""
    if path is None:
        return GatesConfig(path=None)
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read: {exc.strerror}"]) from None
    section = document.get("tool", {}).get("backend-gates", {})
    return parse_section(section, path, parsers, os.environ if environ is None else environ)


def parse_section(
    section: Any,
    path: Path,
    parsers: Mapping[str, tuple[TableParser, tuple[str, ...]]],
    environ: Mapping[str, str],
) -> GatesConfig:
    errors: list[str] = []
    redactor = Redactor()
    if not isinstance(section, dict):
        raise ConfigError([f"[{ROOT_TABLE}]: is not a table; expected a [{ROOT_TABLE}] section"])
    root = Table(ROOT_TABLE, section, errors, redactor, environ)
    root.base = path.parent
    report = root.string("report")
    if report is not None and not report.strip():  # else nothing is written, silently
        root.error("report", section.get("report"), "is empty; expected a file path such as 'backend-gates.json' "
                   "(or leave the key out for no JSON report)")
    identities = parse_identities(
        root, lambda where, raw: Table(f"{ROOT_TABLE}.{where}", raw, errors, redactor, environ))
    acceptance = parse_acceptance(
        root, list(parsers), lambda where, raw: Table(f"{ROOT_TABLE}.{where}", raw, errors, redactor, environ))
    tables: dict[str, Any] = {}
    for name, raw in section.items():
        if name in TOP_LEVEL_KEYS:
            continue
        if name not in parsers and not isinstance(raw, dict):
            root.problem(shown_key(name), f"unknown key; {did_you_mean(name, list(TOP_LEVEL_KEYS))}allowed top-level "
                         f"keys: {', '.join(TOP_LEVEL_KEYS)} and the gate tables {', '.join(parsers)}")
            continue
        if name not in parsers:
            errors.append(
                f"[{ROOT_TABLE}.{name}]: unknown gate or key {name!r}; "
                f"{did_you_mean(name, [*parsers, *TOP_LEVEL_KEYS])}"
                f"gates: {', '.join(parsers)}; top-level keys: {', '.join(TOP_LEVEL_KEYS)}"
            )
            continue
        if not isinstance(raw, dict):
            root.error(name, raw, f"is not a table; expected a [{ROOT_TABLE}.{name}] section")
            continue
        parse, allowed = parsers[name]
        table = Table(f"{ROOT_TABLE}.{name}", raw, errors, redactor, environ)
        table.base = path.parent
        tables[name] = parse(table)
        table.finish(allowed)
    if errors:
        raise ConfigError(errors)
    return GatesConfig(
        path=path,
        report=(path.parent / report) if report else None,
        identities=identities,
        acceptance=acceptance,
        tables=tables,
        redactor=redactor,
    )


def gates_config_of(pytest_config: pytest.Config) -> GatesConfig:
    """The validated configuration: the active run's, or read once for a passive run's fixtures.
    Bad configuration is a usage error."""
    if GATES_CONFIG_KEY not in pytest_config.stash:
        pytest_config.stash[GATES_CONFIG_KEY] = pytest_config.stash[GATES_CONFIG_LOADER_KEY]()
    return pytest_config.stash[GATES_CONFIG_KEY]
