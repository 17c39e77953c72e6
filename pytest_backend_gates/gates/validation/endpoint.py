"""`input_validation.check_endpoint("POST /items")`: one API operation of the contract app,
property-tested with schemathesis' strategies for it.

Schema-valid requests (`GenerationMode.POSITIVE`, string values drawn from the hostile
input library a quarter of the time, as the contract gate does with the security gate
on) must not get a 5xx, nor a 4xx the operation does not document. Schema-violating
requests (`GenerationMode.NEGATIVE`) must get a 4xx: never a 5xx, never a 2xx
(schemathesis' own `negative_data_rejection` check decides, with its allowances for
mutations that serialisation undoes). Every response also goes through the security
rules about input (tracebacks, SQL errors, debug pages, reflected XSS, SQL injection
errors) with the severities of `[tool.backend-gates.security] rules`, and is published
to the security gate when that is on.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import seed as pin_seed
from hypothesis import strategies as st

from pytest_backend_gates.gates.response_rules import judge_exchange
from pytest_backend_gates.gates.validation.outcome import (
    CheckSummary,
    InputViolation,
    InvalidAccepted,
    UsageProblem,
    ValidRejected,
    collect_findings,
    replay_blob,
)
from pytest_backend_gates.security_rules import INPUT_RULES
from pytest_backend_gates.service.exchange import Exchange, publisher
from pytest_backend_gates.service.identities import act_in_schema, identity_session
from pytest_backend_gates.service.in_flight import SCHEMATHESIS_ID_HEADER
from pytest_backend_gates.service.openapi import (
    IN_PROCESS_HOST,
    engine_config,
    load_schema,
    operation_strategy,
)
from pytest_backend_gates.service.target import (
    REPLAY_BASE_URL,
    TargetError,
    load_target,
)
from pytest_backend_gates.settings import ContractSettings, SecuritySettings

if TYPE_CHECKING:
    from pytest_backend_gates.gates.validation.check import InputValidation

_schema_key = pytest.StashKey[dict[str, Any]]()


class ServerError(InputViolation):
    kind = "server-error"


class InsecureResponse(InputViolation):
    kind = "security"


def _load(iv: InputValidation) -> tuple[Any, Any, SecuritySettings]:
    """(schema, target, security settings), loaded once per session."""
    config = iv._config
    cache = config.stash.setdefault(_schema_key, {})
    if "schema" in cache:
        return cache["schema"], cache["target"], cache["security"]
    gates_config = iv.gates_config
    contract = gates_config.get(ContractSettings)
    if contract is None:
        raise UsageProblem("it needs a [tool.backend-gates.contract] table with app or base_url in pyproject.toml")
    try:
        target = load_target(contract)
        identities = identity_session(config, gates_config)
        schema = load_schema(contract, target, config.rootpath,
                             engine_config(contract, 0, ("fuzzing",), target, hostile=True, rootpath=config.rootpath),
                             headers=identities.headers() if identities is not None else None)
        if identities is not None:
            act_in_schema(schema, identities)
    except TargetError as exc:
        raise UsageProblem(f"[tool.backend-gates.contract] {gates_config.redactor.redact(str(exc))}") from None
    cache.update(schema=schema, target=target, security=gates_config.get(SecuritySettings) or SecuritySettings())
    return schema, target, cache["security"]


def _operation(schema: Any, operation: str) -> Any:
    method, _, path = operation.strip().partition(" ")
    labels = []
    for result in schema.get_all_operations():
        try:
            op = result.ok()
        except Exception:  # an operation the schema describes wrongly: not this one
            continue
        labels.append(op.label)
        if op.method.upper() == method.upper() and op.path == path.strip():
            return op
    raise UsageProblem(f"{operation!r} is not an operation of the contract app's schema; expected 'METHOD /path', "
                       f"one of: {', '.join(labels) or '(none)'}")


def _raised(target: Any, response: Any) -> str:
    """What the in-process app raised while answering this 5xx (serving.py keeps it, by the
    test case id schemathesis sends)."""
    if not target.in_process or response.status_code < 500:
        return ""
    headers = getattr(response.request, "headers", None) or {}
    raised = target.app.raised(headers.get(SCHEMATHESIS_ID_HEADER))
    return f" | the app raised {raised.text()}" if raised is not None else ""


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text)} chars)"


def _documented(op: Any) -> set[str]:
    responses = op.definition.raw.get("responses", {}) if hasattr(op, "definition") else {}
    return {str(code).upper() for code in responses}


def _is_documented(status: int, documented: set[str]) -> bool:
    return str(status) in documented or f"{str(status)[0]}XX" in documented or "DEFAULT" in documented


def check_endpoint(iv: InputValidation, operation: str, max_examples: int | None, seed: int | None) -> CheckSummary:
    # schemathesis only when an operation is checked (check() alone never loads it)
    from schemathesis import GenerationMode
    from schemathesis.checks import CHECKS, load_all_checks

    if not isinstance(operation, str) or " /" not in operation:
        raise UsageProblem(f"operation={operation!r}: expected 'METHOD /path', e.g. 'POST /items'")
    schema, target, security = _load(iv)
    op = _operation(schema, operation)
    load_all_checks()
    negative_check = CHECKS.get_by_names(["negative_data_rejection"])
    documented = _documented(op)
    hsettings = iv.hypothesis_settings(max_examples)
    chosen_seed = iv.choose_seed(seed, hsettings)
    publish = publisher(iv._config)
    failing_rules = [r for r in INPUT_RULES if security.rules.get(r, "fail") == "fail"]
    counts: Counter[str] = Counter()
    base_url = None if target.in_process else target.base_url

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemathesis' and hypothesis' own chatter is not the test's concern
        positive = operation_strategy(op, generation_mode=GenerationMode.POSITIVE)
        try:
            negative = operation_strategy(op, generation_mode=GenerationMode.NEGATIVE)
        except Exception:  # nothing in the operation can be made invalid
            negative = st.nothing()
    cases = st.one_of(positive.map(lambda c: ("valid", c)), negative.map(lambda c: ("invalid", c)))

    def run_case(pair: tuple[str, Any]) -> None:
        label, case = pair
        counts[label] += 1
        response = case.call(base_url=base_url) if base_url else case.call()
        curl = IN_PROCESS_HOST.sub(REPLAY_BASE_URL, case.as_curl_command()) if target.in_process \
            else case.as_curl_command()
        status = response.status_code
        body = " ".join((response.content or b"")[:200].decode("utf-8", "replace").split())
        exchange = Exchange(operation=op.label, method=op.method.upper(), url=response.request.url or "",
                            status=status, headers=tuple((k, v) for k, vs in response.headers.items() for v in vs),
                            body=response.content or b"", request_body=response.request.body
                            if isinstance(response.request.body, bytes) else None,
                            source="input_validation", reproduce=lambda: curl)
        if publish is not None:
            publish(exchange)
        if status >= 500:
            raise ServerError(curl, f"{label} request got {status}: {body}{_raised(target, response)}")
        if label == "invalid":
            why = ""
            try:
                case.validate_response(response, checks=negative_check)
            except (Exception, BaseExceptionGroup) as failure:
                failures = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
                why = next((line.strip() for f in failures for line in str(getattr(f, "message", "")).splitlines()
                            if line.strip().startswith("Invalid component")), "")
                accepted = True
            else:
                accepted = False
            if accepted:
                raise InvalidAccepted(curl, f"schema-violating request accepted with {status}"
                                            f"{' (' + why + ')' if why else ''}: {body}")
        elif 400 <= status < 500 and not _is_documented(status, documented):
            raise ValidRejected(curl, f"schema-valid request rejected with {status}, which {op.label} does not "
                                      f"document ({', '.join(sorted(documented)) or 'none'}): {body}")
        for finding in judge_exchange(exchange, security):
            if finding.rule in failing_rules:
                raise InsecureResponse(curl, f"[{finding.rule}] {finding.message}")

    run_case._hypothesis_internal_add_digest = iv.database_digest(operation)  # type: ignore[attr-defined]
    test = given(cases)(hsettings(run_case))
    if chosen_seed is not None:
        test = pin_seed(chosen_seed)(test)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="schemathesis")
        warnings.filterwarnings("ignore", message="Generating overly large repr")
        findings, flaky = collect_findings(test)
    redact = iv.redact
    inputs = sum(counts.values())
    call_text = f"check_endpoint({operation!r})"
    violations = [{"kind": f.kind, "input": redact(_short(str(f.value))), "message": redact(f.text),
                   "blob": replay_blob(f)} for f in findings]
    reproduce = iv.replay_hint(chosen_seed)
    iv.record({"test": iv.nodeid, "call": call_text, "accepts": f"{op.label} (OpenAPI)", "inputs": inputs,
               "violations": [{k: v for k, v in item.items() if v is not None} for item in violations],
               "reproduce": reproduce})
    summary = CheckSummary(op.label, f"{op.label} (OpenAPI)", inputs, dict(counts))
    if not findings:
        return summary
    lines = [f"input_validation.{call_text}: {len(findings)} violation{'s' if len(findings) != 1 else ''} "
             f"({inputs} requests, shrunk)" + (" [flaky: did not fail again on replay]" if flaky else "")]
    for item in violations:
        lines.append(f"  {item['message']}")
        lines.append(f"    request: {item['input']}")
    lines.append(f"reproduce: {reproduce}")
    pytest.fail("\n".join(lines), pytrace=False)
