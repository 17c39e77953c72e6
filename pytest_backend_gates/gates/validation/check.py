"""The `input_validation` fixture object: `check` runs one hypothesis test of a function
(`check_endpoint`, of an API operation, is endpoint.py's).

Valid inputs (from `accepts`) must be accepted, invalid ones (derived from `accepts`, see
inputs.py, plus the hostile string library shared with the security gate) must raise one of
`rejects`; another exception, or a call that outlives the per-call deadline (caller.py), is
a violation (outcome.py). The user's hypothesis profile, database and `--hypothesis-seed`
stay in charge; the plugin only sets `max_examples` when asked to (call or config), lifts
hypothesis' 200 ms deadline in favour of its own hang deadline when the profile left it at
the default, and prints the reproduction blob.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import hypothesis
import pytest
from hypothesis import Phase, example, given
from hypothesis import reproduce_failure as replay
from hypothesis import seed as pin_seed
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter

from pytest_backend_gates.budget import BudgetError, format_duration, parse_duration
from pytest_backend_gates.config import GatesConfig
from pytest_backend_gates.gates.validation.caller import TIMED_OUT, Caller
from pytest_backend_gates.gates.validation.endpoint import check_endpoint
from pytest_backend_gates.gates.validation.gate import ValidationGate
from pytest_backend_gates.gates.validation.inputs import (
    INVALID,
    UNKNOWN,
    VALID,
    AcceptsError,
    OracleCrash,
    domain_for,
)
from pytest_backend_gates.gates.validation.odd_inputs import hostile_strings
from pytest_backend_gates.gates.validation.outcome import (
    ADJECTIVE,
    SEVERITY,
    CheckSummary,
    Hang,
    InputViolation,
    InvalidAccepted,
    ModelCrashed,
    StopRun,
    UsageProblem,
    ValidRejected,
    WrongException,
    collect_findings,
    describe,
    replay_blob,
    show,
)
from pytest_backend_gates.limits import MAX_DEADLINE, MAX_EXAMPLES
from pytest_backend_gates.settings import ValidationSettings

MAX_HANGS = 3  # hanging inputs shrunk before the run stops (each costs a whole deadline)


class InputValidation:
    """The `input_validation` fixture (SPEC section 4)."""

    def __init__(self, request: pytest.FixtureRequest, settings: ValidationSettings,
                 gate: ValidationGate | None, gates_config: GatesConfig) -> None:
        self._request = request
        self._config = request.config
        self.gates_config = gates_config
        self._nodeid: str = request.node.nodeid
        self.settings = settings
        self._gate = gate
        self._calls = 0

    # -- check ----------------------------------------------------------------
    def check(self, fn: Callable[[Any], Any], accepts: Any = None, rejects: Any = (ValueError,),
              max_examples: int | None = None, *, deadline: float | str | None = None, seed: int | None = None,
              reproduce_failure: tuple[str, bytes] | None = None) -> CheckSummary:
        """Property-test `fn` with valid, invalid and hostile inputs; fails the test with the shrunk inputs."""
        __tracebackhide__ = True
        try:
            return self._check(fn, accepts, rejects, max_examples, deadline, seed, reproduce_failure)
        except UsageProblem as exc:
            problem = str(exc)
        pytest.fail(f"input_validation.check: {problem}", pytrace=False)

    def check_endpoint(self, operation: str, max_examples: int | None = None, *,
                       seed: int | None = None) -> CheckSummary:
        """Schema-valid, schema-violating and hostile requests to one operation of the contract app:
        violating ones must get a 4xx (never 2xx or 5xx), valid ones no undocumented 4xx."""
        __tracebackhide__ = True
        try:
            return check_endpoint(self, operation, max_examples, seed)
        except UsageProblem as exc:
            problem = str(exc)
        pytest.fail(f"input_validation.check_endpoint: {problem}", pytrace=False)

    # -- shared with endpoint.py ------------------------------------------------
    def hypothesis_settings(self, max_examples: int | None) -> Any:
        if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, int)
                                         or not 1 <= max_examples <= MAX_EXAMPLES):
            raise UsageProblem(f"max_examples={max_examples!r}: expected an integer from 1 to {MAX_EXAMPLES}")
        active = hypothesis.settings.default
        assert active is not None  # a profile is always loaded
        changes: dict[str, Any] = {"print_blob": True}
        wanted = max_examples if max_examples is not None else self.settings.max_examples
        if wanted is not None:
            changes["max_examples"] = wanted
        # hypothesis' default 200 ms deadline would call a slow first call flaky; our own
        # per-call deadline finds hangs. A deadline the user's profile set stays.
        if active.deadline == hypothesis.settings.get_profile("default").deadline:
            changes["deadline"] = None
        # The explain phase only annotates hypothesis' own falsifying-example printout, which the
        # check replaces with its message; it would cost seconds per failure.
        if Phase.explain in active.phases:
            changes["phases"] = tuple(phase for phase in active.phases if phase is not Phase.explain)
        return hypothesis.settings(active, **changes)

    def choose_seed(self, seed: int | None, hypothesis_settings: Any) -> int | None:
        """The seed to pin (and print), or None when `--hypothesis-seed` or derandomize decide."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise UsageProblem(f"seed={seed!r}: expected an integer")
            return seed
        if self._config.getoption("hypothesis_seed", None) is not None or hypothesis_settings.derandomize:
            return None
        return random.SystemRandom().randrange(2**32)

    def replay_hint(self, seed: int | None) -> str:
        if seed is not None:
            return f"pytest '{self._nodeid}' --hypothesis-seed={seed}  (or pass seed={seed} to the call)"
        forced = self._config.getoption("hypothesis_seed", None)
        if forced is not None:
            return f"pytest '{self._nodeid}' --hypothesis-seed={forced}"
        # hypothesis loads its "ci" profile (derandomize=True) by itself when CI is set
        return f"pytest '{self._nodeid}'  (the hypothesis profile derandomizes: every run tries the same inputs)"

    def database_digest(self, what: str) -> bytes:
        self._calls += 1
        return f"backend-gates-validation|{self._nodeid}|{what}|{self._calls}".encode()

    def record(self, data: dict[str, Any]) -> None:
        if self._gate is not None:
            self._gate.record_detail("check", data)

    def redact(self, text: str) -> str:
        """Secrets from ${ENV} in the configuration (headers of the contract app) never reach the output."""
        return str(self.gates_config.redactor.redact(text))

    @property
    def nodeid(self) -> str:
        return self._nodeid

    # -- the property test -------------------------------------------------------
    def _check(self, fn: Callable[[Any], Any], accepts: Any, rejects: Any, max_examples: int | None,
               deadline: float | str | None, seed: int | None,
               reproduce_failure: tuple[str, bytes] | None) -> CheckSummary:
        if not callable(fn):
            raise UsageProblem(f"fn={fn!r} is not callable; expected the function to check, e.g. check(parse_qty, "
                               "accepts=...)")
        if accepts is None:
            raise UsageProblem(f"accepts is missing; say what {_name(fn)} accepts: a hypothesis strategy, a type, "
                               "a pydantic model class or re.compile(...)")
        rejects = _rejects(rejects)
        limit = _deadline(deadline, self.settings.deadline)
        try:
            domain = domain_for(accepts)
        except AcceptsError as exc:
            raise UsageProblem(str(exc)) from None
        hsettings = self.hypothesis_settings(max_examples)
        chosen_seed = self.choose_seed(seed, hsettings)
        expected = " or ".join(e.__name__ for e in rejects)
        name = _name(fn)
        counts: Counter[str] = Counter()
        hangs: list[InputViolation] = []

        valid = domain.valid.map(lambda v: ("valid", v))
        derived = domain.invalid.map(lambda v: ("derived", v))
        # one_of picks a branch uniformly: about 2 valid, 3 derived, 1 hostile in 6
        cases = st.one_of(valid, valid, derived, derived, derived, hostile_strings().map(lambda v: ("hostile", v)))

        def judge(case: tuple[str, Any]) -> None:
            source, value = case
            if domain.oracle is None:
                label = VALID if source == "valid" else UNKNOWN
            else:
                try:
                    label = VALID if domain.oracle(value) else INVALID
                except OracleCrash as crash:
                    finding: InputViolation = ModelCrashed(value, f"{domain.oracle_name}({show(value)}) raised "
                                                           f"{describe(crash.exc)} instead of a validation error")
                    finding.__context__ = crash.exc
                    raise finding from None
            counts[label] += 1
            exc, result = caller(value)
            if result is TIMED_OUT:
                hang = Hang(value, f"{ADJECTIVE[label]} input {name}({show(value)}) did not return within "
                                   f"{format_duration(limit)}")
                hangs.append(hang)
                if len(hangs) >= MAX_HANGS:
                    raise StopRun(min(hangs, key=lambda h: len(repr(h.value))))
                raise hang
            if label == VALID and exc is not None:
                finding = ValidRejected(value, f"valid input rejected: {name}({show(value)}) raised {describe(exc)}",
                                        exc)
            elif label == INVALID and exc is None:
                finding = InvalidAccepted(value, f"invalid input accepted: {name}({show(value)}) returned "
                                                 f"{show(result, 60)}; expected {expected}")
            elif exc is not None and not isinstance(exc, rejects):
                finding = WrongException(value, f"{ADJECTIVE[label]} input "
                                                f"{name}({show(value)}) raised {describe(exc)}; expected "
                                                f"{expected}" + ("" if label == INVALID else " or a return"), exc)
            else:
                return
            finding.__context__ = exc  # hypothesis tells bugs apart by where the original exception came from
            raise finding

        def run_case(case: tuple[str, Any]) -> None:
            judge(case)

        run_case._hypothesis_internal_add_digest = self.database_digest(name)  # type: ignore[attr-defined]
        test = given(cases)(hsettings(run_case))
        for edge in domain.edges:
            test = example(edge)(test)
        if chosen_seed is not None:
            test = pin_seed(chosen_seed)(test)
        if reproduce_failure is not None:
            test = replay(*reproduce_failure)(test)

        call_text = f"check({name}, accepts={domain.description})"
        findings: list[InputViolation] = []
        flaky = False
        with self._hypothesis_output(), warnings.catch_warnings(), Caller(fn, limit) as caller:
            # hypothesis' repr of a huge falsifying input is not shown (the message is ours)
            warnings.filterwarnings("ignore", message="Generating overly large repr")
            try:
                findings, flaky = collect_findings(test)
            except StopRun as stop:
                findings = [stop.finding]
        findings.sort(key=lambda f: SEVERITY.index(f.kind))
        inputs = sum(counts.values())
        summary = CheckSummary(name, domain.description, inputs, dict(counts))
        reproduce = self.replay_hint(chosen_seed)
        edge_values = [value for _, value in domain.edges]
        violations = [{"kind": f.kind, "input": show(f.value), "message": f.text, "blob": replay_blob(f),
                       "boundary": any(type(f.value) is type(v) and f.value == v for v in edge_values) or None}
                      for f in findings]
        self.record({"test": self._nodeid, "call": call_text, "accepts": domain.description, "inputs": inputs,
                     "violations": [{k: v for k, v in item.items() if v is not None} for item in violations],
                     "reproduce": reproduce})
        if not findings:
            return summary
        lines = [f"input_validation.{call_text}: {len(findings)} violation{'s' if len(findings) != 1 else ''} "
                 f"({inputs} inputs tried, shrunk)" + (" [flaky: did not fail again on replay]" if flaky else "")]
        for item in violations:
            lines.append(f"  {item['message']}")
            if item["blob"]:
                lines.append(f"    replay this input: check(..., reproduce_failure={item['blob']})")
            elif item["boundary"]:
                lines.append("    a boundary of the accepted values: tried first on every run")
        lines.append(f"reproduce: {reproduce}")
        pytest.fail("\n".join(lines), pytrace=False)

    @contextmanager
    def _hypothesis_output(self) -> Iterator[None]:
        """Hypothesis reports the falsifying examples of the inner test on stdout; our message says it better,
        so that chatter goes to the verbose log only."""
        with with_reporter(lambda text: None):
            yield


# -- helpers ------------------------------------------------------------------------


def _name(fn: Any) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and hasattr(fn, "__name__"):  # Model.model_validate, not BaseModel.model_validate
        return f"{owner.__name__}.{fn.__name__}"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return str(name).rsplit("<locals>.", 1)[-1]


def _rejects(rejects: Any) -> tuple[type[BaseException], ...]:
    items = rejects if isinstance(rejects, tuple) else (rejects,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise UsageProblem(f"rejects={rejects!r}: expected an exception class or a tuple of them, "
                               "e.g. rejects=(ValueError, pydantic.ValidationError)")
    if not items:
        raise UsageProblem("rejects=(): name at least one exception class that invalid inputs must raise")
    return tuple(items)


def _deadline(value: float | str | None, default: float) -> float:
    if value is None:
        return default
    allowed = f"a number of seconds or a duration like '2s', above 0s and at most {MAX_DEADLINE:g}s (1 hour)"
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except BudgetError:
            raise UsageProblem(f"deadline={value!r} is not a duration; expected {allowed}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageProblem(f"deadline={value!r}: expected {allowed}")
    else:
        seconds = float(value)
    if not 0 < seconds <= MAX_DEADLINE:  # also NaN
        raise UsageProblem(f"deadline={value!r} is out of range; expected {allowed}")
    return seconds

