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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.gates.base import Gate
from pytest_backend_gates.gates.items import (
    GateItem,
    GateItemFailure,
    gate_suite,
    keyword,
    problem_lines,
)
from pytest_backend_gates.result import GateResult, Status, Violation
from pytest_backend_gates.service.credentials import CredentialWatch
from pytest_backend_gates.service.django_db import django_database_in_use
from pytest_backend_gates.service.engine_events import (
    EventReader,
    OperationOutcome,
    fold_same_cause,
    group_tool_errors,
)
from pytest_backend_gates.service.exchange import publisher
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
from pytest_backend_gates.service.target import Target, TargetError, load_target
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
        problems = problem_lines(fold_same_cause(outcome.violations), outcome.errors)
        if problems:
            counts = [_plural(len(fold_same_cause(outcome.violations)), "contract failure"), _plural(len(outcome.errors), "error")]
            header = f"{' and '.join(c for c in counts if not c.startswith('0 '))} in {self.label} " \
                     f"({outcome.cases} cases, seed {self.gate.seed})"
            raise GateItemFailure(self.gate.redact("\n".join([header, *problems, self.gate.replay_hint(self.label)])))
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
        self._watch = CredentialWatch(dict(settings.headers))

    # -- set-up ------------------------------------------------------------
    def start(self) -> None:
        # Cheap checks only: the app itself is imported at collection, after
        # coverage started and conftest.py files ran.
        if self.settings.base_url is not None:
            from pytest_backend_gates.service.target import check_loopback

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
        return engine_config(self.settings, self.seed, phases, self._target, hostile=hostile)

    def _load_schema(self) -> Any:
        self._target = load_target(self.settings)
        return load_schema(self.settings, self._target, self.context.rootpath, self._engine_config(UNIT_PHASES),
                           anonymous=self._target.in_process and django_database_in_use(self.context.pytest_config))

    # -- collection --------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf select among the items
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
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
        outcomes = self._outcomes
        settings = self.settings
        threshold = {"max_examples": settings.max_examples, "require_success": settings.require_success,
                     "checks": settings.checks if settings.checks == "all" else list(settings.checks),
                     "max_time_s": settings.max_time, "on_max_time": settings.on_max_time}
        errors = [f"{o.label}: {e}" for o in outcomes for e in o.errors]
        if self._load_error is not None and not outcomes:
            errors.append(self._load_error)
        # The stateful item finds again what an operation's item found: report each once. A
        # 5xx that is also an undocumented status (or any other check) with the same cause is one
        # finding: the server error.
        violations: list[Violation] = []
        reported: set[tuple[str, str, str]] = set()
        for v in fold_same_cause([v for o in outcomes for v in o.violations]):
            key = (v["where"], v["check"], str(v.get("details")) if v.get("details") else v["message"].split(" | response")[0])
            if key not in reported:
                reported.add(key)
                violations.append(Violation(**v))
        statuses: dict[str, Counter[int]] = {}
        for outcome in outcomes:
            for operation, counts in outcome.statuses.items():
                statuses.setdefault(operation, Counter()).update(counts)
        tested = sorted({o.label for o in outcomes if o.label not in (STATEFUL, "load schema") and not o.timed_out})
        notes: list[str] = []
        refused: list[str] = []  # operations that answered nothing but 401/403
        for operation in tested:
            counts = statuses.get(operation, Counter())
            if not any(200 <= status < 300 for status in counts):
                got = ", ".join(f"{status} x{n}" for status, n in counts.most_common()) or "no response"
                text = f"{operation} never answered 2xx (got {got})"
                if counts and set(counts) <= {401, 403}:
                    refused.append(f"{operation} ({got})")
                    text += "; the credentials were refused"
                elif settings.require_success:
                    violations.append(Violation(where=operation, check="require_success", message=text))
                    continue
                notes.append(text + ("" if text.endswith("refused") else
                                     "; fuzzing may not get past validation or missing resources"))
        answered = [op for op in tested if statuses.get(op)]
        ok = [op for op in answered if any(200 <= status < 300 for status in statuses[op])]
        # Measured on error pages only: no operation answered 2xx, or most refused the credentials.
        shallow = None
        if refused and len(refused) * 2 >= len(answered):
            shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
            shallow = (f"the credentials were refused: {len(refused)} of {len(answered)} operations answered only "
                       f"401/403 ({shown}); check [tool.backend-gates.contract] headers (a valid, unexpired token "
                       "of a user that exists in the app's database)")
        elif answered and not ok:
            shallow = (f"no operation answered 2xx ({len(answered)} operations answered only errors): nothing "
                       "was tested beyond the error pages; check the app's data and [tool.backend-gates.contract] "
                       "headers")
        if shallow is not None:
            errors.insert(0, shallow)
        lost = self._watch.warning()  # first: the reason for much of what follows
        notes[:0] = [lost] if lost else []
        notes.extend(self._notes)
        notes.extend(group_tool_errors(list(dict.fromkeys(w for o in outcomes for w in o.warnings))))
        timed_out = [o for o in outcomes if o.timed_out]
        if timed_out:
            notes.append(f"max_time ({settings.max_time:g}s) reached: {_unfinished(timed_out)}")
        cases = sum(o.cases for o in outcomes)
        measured = {"operations": len(self._operations), "operations_tested": len(tested), "cases": cases,
                    "seed": self.seed}
        failing_ops = {v.where for v in violations}
        server_errors = [v for v in violations if v.check == "not_a_server_error"]
        # The headline leads with what a reader acts on first: server errors, then other failures,
        # then what could not be tested (which alone never hides a found defect).
        found_text = ", ".join(part for part in (
            _plural(len(server_errors), "server error") if server_errors else "",
            _plural(len(violations) - len(server_errors), "other failure") if len(violations) > len(server_errors) else "",
        ) if part)
        if found_text:
            found_text = (f"{found_text} in {len(failing_ops)} of {len(self._operations)} operations "
                          f"({cases} cases, seed {self.seed})")
        if errors:
            untested = f"could not test: {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
            status, summary = Status.ERROR, f"{found_text}; {untested}" if found_text else untested
            notes = errors[1:] + notes
        elif not outcomes and self.context.interrupted:
            status, summary = Status.ERROR, "the run was interrupted before any contract item's outcome was recorded"
        elif not outcomes:
            status, summary = Status.SKIPPED, "no contract item ran (all deselected?)"
        elif all(o.skipped for o in outcomes):
            status, summary = Status.SKIPPED, f"nothing was tested: {outcomes[0].label}: {outcomes[0].skipped}"
        elif cases == 0 and timed_out:  # never a pass on nothing, whatever on_max_time says
            status, summary = Status.ERROR, f"max_time ({settings.max_time:g}s) was reached before any test case ran"
        elif cases == 0:
            status, summary = Status.ERROR, "no test case was generated for any operation"
        elif violations:
            status, summary = Status.FAILED, found_text
        elif timed_out and settings.on_max_time == "error":
            # The operations not reached are not passed: a fraction is green only when the user says so.
            status = Status.ERROR
            summary = (f"max_time ({settings.max_time:g}s) reached before every operation was tested "
                       f"({_unfinished(timed_out)}); {len(tested)} of {len(self._operations)} operations fully tested, "
                       f"{cases} cases, no failures (seed {self.seed}); raise max_time, or set on_max_time = \"warn\" to accept a partial run")
        else:
            status = Status.PASSED
            summary = f"{len(tested)} operations, {cases} cases, no failures (seed {self.seed})"
        return GateResult(gate=self.name, status=status, summary=summary, violations=violations,
                          warnings=notes, measured=measured, threshold=threshold,
                          duration_s=sum(o.seconds for o in outcomes))


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


def _unfinished(outcomes: list[OperationOutcome]) -> str:
    """What max_time cut short: operations never reached, operations stopped part-way, stateful."""
    never = [o.label for o in outcomes if o.label != STATEFUL and not o.cases]
    partly = [o.label for o in outcomes if o.label != STATEFUL and o.cases]
    parts = [f"not reached: {', '.join(never)}" if never else "",
             f"stopped part-way: {', '.join(partly)}" if partly else "",
             "stateful testing not (fully) run" if any(o.label == STATEFUL for o in outcomes) else ""]
    return "; ".join(part for part in parts if part)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


