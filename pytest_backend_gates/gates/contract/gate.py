"""Contract gate: every API operation fuzzed against its OpenAPI schema, no test code needed.

One pytest item per operation (plus one for stateful testing), so `-k`, `--lf`,
xdist and JUnit work on them. Each item runs schemathesis' own engine (what
`st run` runs: examples, coverage and fuzzing phases, then stateful) for its
operation, and turns what the engine recorded into violations with a curl
reproduction each.
"""

from __future__ import annotations

import gc
import random
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.gates.contract.evaluate import contract_result, plural
from pytest_backend_gates.gates.items import (
    GateItem,
    GateItemFailure,
    accepted_line,
    gate_suite,
    keyword,
    problem_lines,
    split_accepted,
)
from pytest_backend_gates.result import GateResult, Violation
from pytest_backend_gates.service.credentials import CredentialWatch
from pytest_backend_gates.service.django_db import django_database_in_use
from pytest_backend_gates.service.engine_events import (
    EventReader,
    OperationOutcome,
    fold_same_cause,
)
from pytest_backend_gates.service.exchange import publisher
from pytest_backend_gates.service.identities import (
    act_in_schema,
    identity_session,
)
from pytest_backend_gates.service.openapi import (
    STATEFUL,
    UNIT_PHASES,
    engine_config,
    load_schema,
    schema_fetched_over_the_network,
    short_error,
    unmatched_exclusions,
    validate_checks,
)
from pytest_backend_gates.service.target import (
    Target,
    TargetError,
    check_loopback,
    load_target,
)
from pytest_backend_gates.settings import ContractSettings


class ContractItem(GateItem):
    kind_name = "contract"

    def __init__(self, *, gate: ContractGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def runtest(self) -> None:
        outcome = self.gate.run(self)
        if outcome.skipped:
            pytest.skip(outcome.skipped)
        new, accepted = split_accepted(self.gate.context, self.gate.name, fold_same_cause(outcome.violations),
                                       lambda v: Violation(**v))
        problems = problem_lines(new, outcome.errors)
        if problems:
            counts = [plural(len(new), "contract failure"), plural(len(outcome.errors), "error")]
            header = f"{' and '.join(c for c in counts if not c.startswith('0 '))} in {self.label} " \
                     f"({outcome.cases} cases, seed {self.gate.seed})"
            raise GateItemFailure(self.gate.redact("\n".join([header, *problems, *accepted_line(accepted),
                                                              self.gate.replay_hint(self.label)])))
        if outcome.timed_out:  # not a pass: the gate says what max_time left untested
            pytest.skip(f"contract max_time ({self.gate.settings.max_time:g}s) was reached before this "
                        f"{'stateful run' if self.label == STATEFUL else 'operation'} was fully tested "
                        f"({outcome.cases} cases ran)")


class ContractGate(Gate):
    name = "contract"
    settings: ContractSettings

    def __init__(self, settings: ContractSettings, context: Any) -> None:
        super().__init__(settings, context)
        self.seed: int = 0
        self._seed_chosen = False
        self._target: Target | None = None
        self._schema: Any = None
        self._load_error: str | None = None
        self._deadline: float | None = None
        self._outcomes: list[OperationOutcome] = []
        self._operations: list[str] = []
        self._broken: dict[str, str] = {}  # operation -> why schemathesis cannot test it
        self._ahead: dict[str, OperationOutcome] = {}  # run in an earlier item's batch, not reported yet
        self._ran: set[str] = set()
        self._notes: list[str] = []  # warnings found at collection
        # Static credentials cannot be renewed: a run that revokes them gets the loud warning.
        # A login identity logs in again after a 401 instead.
        identity = context.config.identities.get()
        static = identity.headers if identity is not None and identity.kind == "static" else {}
        self._watch = CredentialWatch({**settings.headers, **static})

    # -- set-up ------------------------------------------------------------
    def start(self) -> None:
        # Cheap checks only: the app itself is imported at collection, after
        # coverage started and conftest.py files ran.
        if self.settings.base_url is not None:
            try:
                check_loopback(self.settings.base_url, self.settings.allow_remote)
            except TargetError as exc:
                raise pytest.UsageError(f"[tool.backend-gates.contract] {exc}") from None

    def redact(self, text: str) -> str:
        return self.context.config.redactor.redact(text)

    def _ensure_seed(self, config: pytest.Config) -> int:
        """Chosen once per process; xdist workers take the controller's."""
        if not self._seed_chosen:
            self.seed, self._seed_chosen = self._choose_seed(config), True
        return self.seed

    def _choose_seed(self, config: pytest.Config) -> int:
        option = config.getoption("backend_gates_seed", None)
        if option is not None:
            return int(option)
        if self.settings.seed is not None:
            return self.settings.seed
        workerinput = getattr(config, "workerinput", None)
        if workerinput and "backend_gates_seed" in workerinput:
            return int(workerinput["backend_gates_seed"])
        return random.SystemRandom().randrange(2**31)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        # Every xdist worker fuzzes with the controller's seed.
        node.workerinput["backend_gates_seed"] = self._ensure_seed(node.config)

    def pytest_report_header(self, config: pytest.Config) -> str:
        self._ensure_seed(config)
        return f"backend-gates contract: seed {self.seed} (replay with --backend-gates-seed={self.seed})"

    def replay_hint(self, label: str) -> str:
        return f"replay: pytest --backend-gates --backend-gates-seed={self.seed} -k \"{keyword(f'contract[{label}]')}\""

    def _engine_config(self, phases: tuple[str, ...]) -> Any:
        # With the security gate on, string values are also drawn from the hostile input library.
        hostile = self.context.pytest_config.pluginmanager.get_plugin("backend-gates-security") is not None
        return engine_config(self.settings, self.seed, phases, self._target, hostile=hostile,
                             rootpath=self.context.rootpath)

    def _load_schema(self) -> Any:
        self._target = load_target(self.settings)
        anonymous = self._target.in_process and django_database_in_use(self.context.pytest_config)
        identities = identity_session(self.context.pytest_config, self.context.config)
        # Logged in here, once: a login that fails is the gate's error, naming the identity.
        headers = identities.headers() if identities is not None and not anonymous else None
        schema = load_schema(self.settings, self._target, self.context.rootpath, self._engine_config(UNIT_PHASES),
                             anonymous=anonymous, headers=headers)
        if identities is not None:
            act_in_schema(schema, identities)
        return schema

    # -- collection --------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf select among the items
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        # lazy, as all of schemathesis: imported at collection, not with the gate class
        from schemathesis.core.result import Err

        if config.option.collectonly and schema_fetched_over_the_network(self.settings, self.context.rootpath):
            return  # the operations are in a schema on a server: listing them would send a request
        validate_checks(self.settings)
        self._ensure_seed(config)
        suite = gate_suite(session)
        try:
            self._schema = self._load_schema()
            labels = []
            for result in self._schema.get_all_operations():
                if isinstance(result, Err):  # one broken operation: its item fails, the others run
                    error = result.err()
                    self._broken[error.label or "invalid operation"] = short_error(error)
                    labels.append(error.label or "invalid operation")
                else:
                    labels.append(result.ok().label)
        except (TargetError, Exception) as exc:
            self._load_error = self.redact(str(exc) if isinstance(exc, TargetError) else short_error(exc))
            labels = ["load schema"]
        if self._schema is not None and self.settings.exclude_operations:
            self._notes.extend(f"exclude_operations: {glob!r} matches no operation of the schema"
                               for glob in unmatched_exclusions(self._schema, self.settings.exclude_operations))
        if not labels:  # an empty schema would otherwise pass without a single request
            excluded = " (after exclude_operations)" if self.settings.exclude_operations else ""
            self._load_error = f"the OpenAPI schema ({self.settings.schema}) has no operations to test{excluded}"
            labels = ["load schema"]
        self._operations = [label for label in labels if label != "load schema"]
        if self.settings.stateful and self._operations:
            labels.append(STATEFUL)
        # Explicit node ids: pytest parses "[...]" of a stored id (--lf, xdist) as parameters,
        # so the items must be built the same way.
        contract_items = [
            ContractItem.from_parent(suite, name=f"contract[{label}]", nodeid=f"backend-gates::contract[{label}]",
                                     gate=self, label=label)
            for label in labels
        ]
        # Before the security gate's probes: a rate-limit burst must not throttle the fuzzer.
        first_probe = next((i for i, item in enumerate(items) if item.nodeid.startswith("backend-gates::security")),
                           len(items))
        items[first_probe:first_probe] = contract_items

    def loaded(self) -> tuple[Any, Target] | None:
        """The schema and target loaded at collection in this process (the security probes use them)."""
        if self._schema is None or self._target is None:
            return None
        return self._schema, self._target

    # -- running -----------------------------------------------------------
    def run(self, item: ContractItem) -> OperationOutcome:
        label = item.label
        outcome = self._ahead.pop(label, None) or OperationOutcome(label=label)
        self._outcomes.append(outcome)
        if outcome.done:
            return outcome
        if self._load_error is not None:
            outcome.errors.append(self._load_error)
            return outcome
        if label in self._broken:
            outcome.errors.append(f"the schema of this operation is invalid: {self._broken[label]}")
            return outcome
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.settings.max_time
        if now >= self._deadline:
            outcome.timed_out = True
            pytest.skip(f"contract max_time ({self.settings.max_time:g}s) was reached before this operation ran")
        # lazy, as all of schemathesis: imported when an item runs
        from schemathesis.engine import from_schema

        # One engine run for this item and the contract items still to run in this process,
        # stateful included: set-up is shared and the app's lifespan runs once, as under
        # `st run` (schemathesis' pytest plugin ends ASGI lifespans after every item). Under
        # xdist a worker does not know which items it will get: one item at a time.
        batch = {label: outcome}
        if not self.context.is_xdist_worker:
            for other in item.session.items:
                if isinstance(other, ContractItem) and other.label not in batch \
                        and other.label not in self._broken and other.label not in self._ran:
                    batch[other.label] = self._ahead.setdefault(other.label, OperationOutcome(label=other.label))
        operations = [name for name in batch if name != STATEFUL]
        phases = (UNIT_PHASES if operations else ()) + ((STATEFUL,) if STATEFUL in batch else ())
        schema = self._schema.include(name=operations) if operations else self._schema.clone()
        schema.config = self._engine_config(phases).projects.get(schema.raw_schema)
        self._ran.update(batch)
        identities = identity_session(self.context.pytest_config, self.context.config)
        failed_before = len(identities.failures) if identities is not None else 0
        started = time.perf_counter()
        # The engine runs inside a test item, under the project's filterwarnings: a
        # project with "error" must not turn hypothesis' own chatter into gate errors.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            reader = EventReader(self._target, self.context.rootpath, dict(self.settings.headers), self._deadline,
                                 on_exchange=publisher(item.config), watch=self._watch)
            with frozen_heap():
                reader.read(from_schema(schema).execute(), batch)
        outcome.seconds = time.perf_counter() - started
        if identities is not None:
            # A new login after a 401 failed (the fuzzing changed the identity's password, deleted
            # it...): the requests that needed it were never sent. Not a pass: the gate's error.
            for failure in dict.fromkeys(identities.failures[failed_before:]):
                outcome.errors.append(self.redact(f"{failure} (logging in again after a 401, during the run; "
                                                  "the requests that needed it were not sent)"))
        root = str(self.context.rootpath)
        for warning in caught:
            if warning.filename.startswith(root) and "site-packages" not in warning.filename:
                text = f"the app warned: {warning.category.__name__}: {warning.message} " \
                       f"({Path(warning.filename).name}:{warning.lineno})"
                if text not in outcome.warnings:
                    outcome.warnings.append(text)
        for each in batch.values():
            each.done = True
        return outcome

    def finished_before_interruption(self, *, all_items_ran: bool, own_items_ran: bool) -> bool:
        # Judged on its own items only: done once every selected contract item ran.
        return own_items_ran

    # -- xdist -------------------------------------------------------------
    def worker_output(self) -> Any:
        return {"outcomes": [o.to_data() for o in self._outcomes], "operations": self._operations,
                "credentials_lost": self._watch.warning()}

    def absorb_worker_output(self, data: Any) -> None:
        self._outcomes.extend(OperationOutcome.from_data(o) for o in data["outcomes"])
        self._operations = self._operations or data["operations"]
        if data.get("credentials_lost"):
            self._notes.append(data["credentials_lost"])

    # -- deciding ----------------------------------------------------------
    def evaluate(self) -> GateResult:
        result = contract_result(self.name, self.settings, self._outcomes, operations=self._operations,
                                 seed=self.seed, load_error=self._load_error, found_notes=self._notes,
                                 credentials_lost=self._watch.warning(), interrupted=self.context.interrupted)
        if self.context.config.identities:  # who the cases were sent as (extension)
            result.measured["identity"] = self.context.config.identities.default
        return result


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive now (pytest, the plugins, the app, the schema: ~160,000 for a FastAPI +
    SQLModel service) out of the cyclic garbage collector's sight while the engine runs. In-process
    they share one heap with the engine's objects, and every collection of the oldest generation
    walked all of them (~0.1 s of CPU each, five or six in a thousand-case run; a server and the
    CLI each have a smaller heap). Frozen, such a collection walks only what the run created.
    Unfrozen after, so the user's cycles are collected as before; left alone when the collector
    is off or someone else froze the heap."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
