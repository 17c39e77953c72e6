"""The one table of built-in gates: a new gate is one row here and one package under gates/.

Each row names the gate's table and report position (the order of the rows), its settings
class and parser, the gate class (imported only when the gate is enabled, so a passive run
never pays for coverage.py, schemathesis or locust), the markers it reads and the module with
its pytest fixtures. Third-party gates register the same `GateSpec` through the
`pytest_backend_gates_register_gates` hook (hookspecs.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_backend_gates import settings as s
from pytest_backend_gates.config import Table, TableParser

if TYPE_CHECKING:
    from pytest_backend_gates.gates.base import Gate


@dataclass(frozen=True)
class GateSpec:
    name: str  # its table [tool.backend-gates.<name>], its --backend-gates name, its report entry
    gate: str | type[Gate]  # "module:Class" (imported when enabled) or the class itself
    settings: type | None = None  # the settings class its parser returns (None: no settings)
    parse: Callable[[Table], Any] | None = None
    # Fed by tests' markers and fixtures (gates/test_attributed.py): on with a bare --backend-gates
    # even without a table, and left out of the report when no test used it.
    fed_by_tests: bool = False
    markers: tuple[str, ...] = ()  # "name(args): help" lines for `pytest --markers`
    fixtures: str | None = None  # module with its fixtures, registered in every run (passive too)
    requires_table: bool = False  # naming it in --backend-gates without its table is a usage error

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys its table allows (for "unknown key" and did-you-mean)."""
        fields = getattr(self.settings, "__dataclass_fields__", None)
        if fields is None:
            return tuple(getattr(self.gate_class(), "settings_keys", ()))
        # A field marked not_a_key is derived by the parser (e.g. which keys were written).
        return tuple(name for name, f in fields.items() if not f.metadata.get("not_a_key"))

    def gate_class(self) -> type[Gate]:
        if not isinstance(self.gate, str):
            return self.gate
        module_name, _, class_name = self.gate.partition(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


_PKG = "pytest_backend_gates.gates"

BUILTIN: tuple[GateSpec, ...] = (
    GateSpec("contract", f"{_PKG}.contract.gate:ContractGate", s.ContractSettings, s.parse_contract,
             requires_table=True),
    GateSpec("security", f"{_PKG}.security.gate:SecurityGate", s.SecuritySettings, s.parse_security),
    GateSpec("validation", f"{_PKG}.validation.gate:ValidationGate", s.ValidationSettings, s.parse_validation,
             fed_by_tests=True, fixtures=f"{_PKG}.validation.fixtures"),
    GateSpec("latency", f"{_PKG}.latency.gate:LatencyGate", s.LatencySettings, s.parse_latency,
             fed_by_tests=True, markers=(
                 "latency_budget(*budgets): the test's timings must meet every budget, e.g. 'p95 < 20ms' "
                 "(backend-gates)",)),
    GateSpec("coverage", f"{_PKG}.coverage.gate:CoverageGate", s.CoverageSettings, s.parse_coverage,
             requires_table=True),
    # --8<-- [start:race]  (docs/writing-gates.md shows this row)
    GateSpec("race", f"{_PKG}.race.gate:RaceGate", s.RaceSettings, s.parse_race, fed_by_tests=True,
             markers=("race_probe(threads=8, rounds=20): run the test body in `threads` threads released "
                      "together, `rounds` times (backend-gates)",),
             fixtures=f"{_PKG}.race.fixtures"),
    # --8<-- [end:race]
    GateSpec("queries", f"{_PKG}.queries.gate:QueriesGate", s.QueriesSettings, s.parse_queries, fed_by_tests=True,
             markers=("query_budget(max=None, repeats=None): limit the SQL statements the test executes "
                      "(backend-gates)",),
             fixtures=f"{_PKG}.queries.fixtures"),
    GateSpec("load", f"{_PKG}.load.gate:LoadGate", s.LoadSettings, s.parse_load, requires_table=True),
)

GATE_NAMES: tuple[str, ...] = tuple(spec.name for spec in BUILTIN)
BY_NAME: dict[str, GateSpec] = {spec.name: spec for spec in BUILTIN}
# Fixtures that are not one gate's: the `api` client of the service under test.
SHARED_FIXTURES: tuple[str, ...] = ("pytest_backend_gates.service.fixtures",)


def spec_of(gate_class: type[Gate]) -> GateSpec:
    """A third-party gate class (pytest_backend_gates_register_gates) as a row of the same table."""
    return GateSpec(name=gate_class.name, gate=gate_class, settings=None, parse=gate_class.settings_parser,
                    requires_table=gate_class.requires_table)


def table_parsers(specs: Iterable[GateSpec] = BUILTIN) -> Mapping[str, tuple[TableParser, tuple[str, ...]]]:
    """Gate table name -> (parser, allowed keys), for config.load_config."""
    return {spec.name: (spec.parse or _no_settings, spec.keys) for spec in specs}


def _no_settings(table: Table) -> None:
    return None
