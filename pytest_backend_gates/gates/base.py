"""The gate interface: what every gate implements, and what it is given (GateContext).

A gate is created once per pytest process when its gate is enabled, may
implement pytest hooks (it is registered as a plugin for the session), and in
the end produces exactly one :class:`~pytest_backend_gates.result.GateResult`.

Under pytest-xdist every process has its own gate objects: workers measure and
hand their measurements over with :meth:`Gate.worker_output`; the controller
merges them with :meth:`Gate.absorb_worker_output` and alone calls
:meth:`Gate.evaluate`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pytest_backend_gates.config import GatesConfig, Table
from pytest_backend_gates.result import GateResult, Violation


@dataclass(frozen=True)
class GateContext:
    """What every gate may use besides its own settings."""

    pytest_config: pytest.Config
    config: GatesConfig
    # Handed over by the run (gates import neither the wiring nor a reporter):
    write_progress: Callable[[str, str], None] = lambda gate, text: None  # (gate name, line) to the terminal
    run_interrupted: Callable[[], bool] = lambda: False
    # Why the baseline or an `ignore` entry accepts a violation of a gate (None: it is new), for
    # gate items to pass when every violation they found is accepted (the run judges it again).
    accepted: Callable[[str, Violation], str | None] = lambda gate, violation: None

    @property
    def rootpath(self) -> Path:
        return self.pytest_config.rootpath

    @property
    def is_xdist_worker(self) -> bool:
        return hasattr(self.pytest_config, "workerinput")

    @property
    def interrupted(self) -> bool:
        """The session was interrupted (Ctrl-C, pytest.exit, an xdist worker's Ctrl-C): say so
        rather than guess at deselection."""
        return self.run_interrupted()


class Gate(abc.ABC):
    name: ClassVar[str]
    # For third-party gates (built-in ones have these in their row of gates/registry.py): whether
    # the gate needs its table (naming it in --backend-gates without one is then a usage error),
    # how to read its [tool.backend-gates.<name>] table and which keys that allows.
    requires_table: ClassVar[bool] = False
    settings_parser: ClassVar[Callable[[Table], Any] | None] = None
    settings_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Any, context: GateContext) -> None:
        self.settings = settings
        self.context = context

    def start(self) -> None:  # noqa: B027 - optional
        """Called once, before collection (before conftest.py files are imported)."""

    def stop(self) -> None:  # noqa: B027 - optional
        """Stop measuring: called when the tests are done, before `worker_output` (on an xdist
        worker) or `evaluate` (on the controller), and again at unconfigure: must be idempotent."""

    def worker_output(self) -> Any:
        """On an xdist worker: measurements to send to the controller (execnet-serialisable)."""
        return None

    def absorb_worker_output(self, data: Any) -> None:  # noqa: B027 - optional
        """On the controller: merge what one worker sent."""

    def progress(self, text: str) -> None:
        """Show a progress line while the gate works (gates never print themselves)."""
        self.context.write_progress(self.name, self.context.config.redactor.redact(text))

    def finished_before_interruption(self, *, all_items_ran: bool, own_items_ran: bool) -> bool:
        """On an interrupted run: was this gate's work done? `own_items_ran`: every selected item
        of this gate (backend-gates::<name>[...]) ran; `all_items_ran`: every selected item did.
        A gate that did not finish is never `passed` (interruption.py). By default a gate depends
        on the tests too, so it finished only when every item ran."""
        return all_items_ran

    @abc.abstractmethod
    def evaluate(self) -> GateResult:
        """Decide the gate. Called once, on the controller, after every test ran."""
