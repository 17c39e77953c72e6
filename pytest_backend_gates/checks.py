"""The one table of check ids: every `check` a built-in gate can put in a Violation, with its
gate, a title, a help text (what it means and what to do), a severity and, for security
checks, its OWASP API Security Top 10 (2023) category. Like ruff's table of rule codes, the
reporters (SARIF rules, GitLab code quality), the docs and the tests all read this one place.

Three parts come from tables that already exist, never copied here:
- the security gate's rule ids and OWASP categories: security_rules.RULES;
- the contract gate's check names: schemathesis' own registry (`schemathesis.checks.CHECKS`,
  custom checks registered by the project included), looked up only when needed so a
  passive run does not import schemathesis;
- the load gate's `load-<metric>`: one id per budget metric (budget.py: min, max, mean,
  median, pNN, rps, failures).

A check id nobody described (a third-party gate's, say) still gets an entry from `lookup`,
saying so: a report is never lost over a missing description.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from pytest_backend_gates.security_rules import RULES

# Code quality severities (GitLab's, from Code Climate): blocker, critical, major, minor, info.
SEVERITIES = ("info", "minor", "major", "critical", "blocker")


@dataclass(frozen=True)
class Check:
    id: str
    gate: str
    title: str  # one line: what broke
    help: str  # what it means and what to do about it
    severity: str = "major"
    owasp: str | None = None  # e.g. "API8:2023 Security Misconfiguration"
    security: bool = False  # a security finding (code scanning's security view)
    described: bool = True  # False: `lookup` made it up for an id that has no entry

    @property
    def owasp_id(self) -> str | None:
        """"API8:2023" of "API8:2023 Security Misconfiguration"."""
        return self.owasp.split(" ", 1)[0] if self.owasp else None

    @property
    def tags(self) -> tuple[str, ...]:
        security = ("security",) if self.security else ()
        owasp = (f"owasp:{self.owasp_id}",) if self.owasp else ()
        return tuple(dict.fromkeys((self.gate, *security, *owasp)))


def _check(id: str, gate: str, title: str, help: str, severity: str = "major", owasp: str | None = None) -> Check:
    return Check(id, gate, title, help, severity, owasp, security=owasp is not None)


# -- security: ids and OWASP from security_rules.RULES; here what each means and what to do --
_SECURITY_TEXT: dict[str, tuple[str, str, str]] = {  # id -> (severity, title, help)
    "leak-traceback": ("major", "A response contains a stack trace",
                       "The body shows a traceback: it tells an attacker the code's layout and versions. Return a "
                       "generic error body and log the traceback on the server."),
    "leak-sql-error": ("major", "A response contains SQL error text",
                       "Database error text reached the client: it reveals the schema and often an injection "
                       "point. Catch database errors and answer with a generic error."),
    "leak-debug-page": ("critical", "A response is a framework debug page",
                        "A debug page (Werkzeug, Django, Starlette, Rails) is served: it can expose settings and "
                        "sometimes a console. Turn debug mode off outside development."),
    "server-banner": ("minor", "A header names the server software and its version",
                      "Server, X-Powered-By or a similar header carries a version number, which narrows an "
                      "attacker's search for known vulnerabilities. Drop the version from the header."),
    "header-missing": ("minor", "A required security header is missing",
                       "A header from required_headers (X-Content-Type-Options by default) is absent. Add it in a "
                       "middleware so every response carries it."),
    "sensitive-field": ("major", "A response exposes a sensitive field",
                        "A JSON member named like a secret (password, token, ...) carries a value that is not the "
                        "caller's own. Leave it out of the response model."),
    "xss-reflected": ("major", "A hostile input is echoed unescaped in HTML",
                      "An HTML response contains the request's hostile input unescaped: reflected cross-site "
                      "scripting. Escape output (templating with autoescape) or answer JSON."),
    "sqli-error": ("critical", "An input with a quote breaks the SQL query",
                   "A quote in the input produced an SQL error: error-based SQL injection. Use bound parameters, "
                   "never string formatting, to build queries."),
    "rate-limit": ("major", "No rate limit on an operation that needs one",
                   "limit + 1 rapid identical requests to a rate_limits operation were never answered 429. Add rate "
                   "limiting to the operation (or fix the configured limit)."),
    "auth-ignored": ("critical", "An operation that requires credentials answered without them",
                     "The schema declares a security requirement, but a request without credentials got a 2xx. "
                     "Enforce authentication on the operation."),
    "cors": ("major", "CORS allows any origin with credentials",
             "Access-Control-Allow-Origin is * or reflects a foreign Origin while credentials are allowed: any "
             "site can call the API as the logged-in user. Allow a fixed list of origins."),
    "cookie-flags": ("minor", "A session cookie lacks Secure, HttpOnly or SameSite",
                     "A session-like cookie is set without one of its protective flags. Set Secure, HttpOnly and "
                     "SameSite on it."),
    "mass-assignment": ("critical", "A read-only field can be set by the client",
                        "A field the client must not set (readOnly, or not in the request schema) was sent with a "
                        "new value and kept. Accept only the declared fields in the request model."),
    "bola": ("critical", "One identity reached another identity's resource",
             "A resource created by one identity was read, changed or deleted by another: broken object level "
             "authorization. Check the owner on every access by id."),
    "bfla": ("critical", "An admin-only operation answered a non-admin",
             "An operation listed in admin_only answered 2xx to an identity without the admin role. Check the "
             "caller's role in the operation."),
    "jwt-none": ("blocker", "A JWT with alg none was accepted",
                 "A bearer token with no signature (alg none) was accepted: anyone can forge any identity. Pin the "
                 "accepted algorithms when verifying tokens."),
    "jwt-expired": ("critical", "An expired JWT was accepted",
                    "A correctly signed token whose exp lies in the past was accepted. Verify exp (most JWT "
                    "libraries do when asked to)."),
    "jwt-tampered": ("blocker", "A JWT with a changed payload was accepted",
                     "A token whose payload was changed after signing was accepted: the signature is not "
                     "verified. Verify the signature of every token."),
}


def _security_checks() -> tuple[Check, ...]:
    checks = []
    for rule in RULES:
        severity, title, help = _SECURITY_TEXT.get(
            rule.id, ("major", f"security rule {rule.id}", "See docs/security.md for this rule."))
        checks.append(Check(rule.id, "security", title, help, severity, rule.owasp, security=True))
    return tuple(checks)


# -- contract: schemathesis' checks (names from its registry), and the gate's own -----------------
_API1 = "API1:2023 Broken Object Level Authorization"
_API2 = "API2:2023 Broken Authentication"
_SCHEMATHESIS_TEXT: dict[str, tuple[str, str, str, str | None]] = {  # name -> (severity, title, help, owasp)
    "not_a_server_error": ("critical", "The API answered with a server error (5xx)",
                           "A generated request got a 5xx: the server crashed on input it should handle. Fix the "
                           "crash (the violation names the exception and where it was raised), and answer 4xx to "
                           "input that is wrong.", None),
    "status_code_conformance": ("major", "A status code the schema does not document",
                                "The response's status is not among the operation's documented responses. "
                                "Document it in the OpenAPI schema, or answer a documented one.", None),
    "content_type_conformance": ("major", "A content type the schema does not document",
                                 "The response's Content-Type is not one the schema declares for that status. Fix "
                                 "the response or the schema.", None),
    "response_headers_conformance": ("major", "A documented response header is missing or wrong",
                                     "A header the schema declares for the response is absent or does not match "
                                     "its schema.", None),
    "response_schema_conformance": ("major", "The response body does not match its schema",
                                    "The body differs from the documented response schema (a missing field, a "
                                    "wrong type, an undeclared null). Fix the response model or the schema.", None),
    "negative_data_rejection": ("major", "Invalid input was accepted",
                                "A request that violates the schema was answered 2xx instead of 4xx: validation is "
                                "missing or looser than documented.", None),
    "positive_data_acceptance": ("major", "Valid input was rejected",
                                 "A request that conforms to the schema was refused with a 4xx: the server is "
                                 "stricter than its schema.", None),
    "missing_required_header": ("minor", "A request without a required header was not rejected",
                                "A header the schema marks required was left out and the server did not answer 4xx.",
                                None),
    "unsupported_method": ("minor", "An undocumented method was not answered 405",
                           "A method the path does not document got something other than 405 Method Not Allowed.",
                           None),
    "allow_header_conformance": ("minor", "A 405 answer without a correct Allow header",
                                 "A 405 response must list the allowed methods in its Allow header.", None),
    "use_after_free": ("major", "A deleted resource is still reachable",
                       "After a successful DELETE, the resource still answered 2xx.", None),
    "ensure_resource_availability": ("major", "A created resource is not available",
                                     "A resource whose creation succeeded could not be read back right after.",
                                     None),
    "ignored_auth": ("critical", "Authentication is declared but not enforced",
                     "The operation declares a security requirement, yet answered 2xx without valid credentials. "
                     "Enforce authentication on it.", _API2),
    "object_level_authorization": ("critical", "One identity read an object another created",
                                   "An object created by one identity was readable by another: broken object level "
                                   "authorization. Check ownership on every access by id.", _API1),
}

_SPECIFIC: tuple[Check, ...] = (
    _check("require_success", "contract", "An operation never answered 2xx",
           "With require_success = true, every operation must answer 2xx at least once: fuzzing that only ever "
           "reaches error answers tests nothing. Give the gate valid data (examples, headers, identities)."),
    # validation: the kinds of the input_validation fixture's findings (validation/outcome.py, endpoint.py)
    _check("valid-rejected", "validation", "A valid input was rejected",
           "An input the `accepts` description calls valid raised (or crashed). Accept it, or narrow `accepts`."),
    _check("invalid-accepted", "validation", "An invalid input was accepted",
           "An input outside `accepts` was returned from without an exception (for an endpoint: answered 2xx, not "
           "4xx). Validate it and raise one of `rejects`."),
    _check("wrong-exception", "validation", "Invalid input raised an unexpected exception",
           "Bad input raised something not in `rejects` (a TypeError from None, a KeyError): callers cannot catch "
           "it as a validation error. Raise the documented exception."),
    _check("hang", "validation", "A call ran past its deadline",
           "A call on one input took longer than the per-call deadline: an input can stall the function (a "
           "catastrophic regex, an unbounded loop). Bound the work per input."),
    _check("model-crashed", "validation", "The model that defines valid input crashed",
           "The pydantic model (or type) given as `accepts` raised something other than a ValidationError: the "
           "validator itself has a bug."),
    _check("server-error", "validation", "An endpoint answered 5xx to an input",
           "check_endpoint: a request got a server error. Handle the input; answer 4xx when it is wrong.",
           "critical"),
    Check("security", "validation", "An endpoint's answer broke a security rule",
          "check_endpoint: an answer leaked a traceback, SQL error text or a debug page, or reflected a hostile "
          "payload; the message names the security rule (docs/security.md).", "critical", security=True),
    _check("validation-test", "validation", "A test that used input_validation failed",
           "The test failed for a reason other than a validation finding; its message says why."),
    # latency
    _check("latency-budget", "latency", "A latency budget was exceeded",
           "The measured metric (p95, max, ...) is over its budget, confirmed by re-measuring. Make the code "
           "faster, or raise the budget on purpose."),
    _check("latency-regression", "latency", "Slower than the stored timings",
           "In regression mode, the timing is slower than the saved one by more than the allowed percentage."),
    _check("latency-marker", "latency", "Bad @pytest.mark.latency_budget arguments",
           "The marker's budget or options could not be read; the message names the value and what is allowed."),
    _check("latency-test", "latency", "A test with a latency budget failed",
           "The budgeted test failed on its own assertions; its message says why."),
    # coverage
    _check("coverage-total", "coverage", "Total coverage under its minimum",
           "The run's total coverage is under `total`. Add tests for the least covered files."),
    _check("coverage-branches", "coverage", "Branch coverage under its minimum",
           "The share of branches taken is under `branches`. Test the other side of the missed conditions."),
    _check("coverage-file", "coverage", "A file's coverage under its minimum",
           "A file is under the minimum its most specific `files` glob sets; the message lists its missing lines.",
           "minor"),
    _check("coverage-diff", "coverage", "Changed lines not covered",
           "Of the lines changed against `diff.against`, fewer are covered than `diff.min`; the message names the "
           "uncovered changed lines of this file. Test the code you changed.", "minor"),
    # race
    _check("race-test", "race", "A race test failed",
           "A test using the race fixture or @pytest.mark.race_probe failed under concurrency; replay it with the "
           "printed --backend-gates-race-seed."),
    _check("race-server-error", "race", "Concurrent requests got a server error",
           "Identical requests sent at once answered 5xx, while the same request alone does not: a race in the "
           "server (locking, unique constraints, shared state).", "critical"),
    _check("race-duplicate-id", "race", "Concurrent creates got the same id",
           "Two creates that both answered 2xx were given the same identifier: ids are not allocated atomically.",
           "critical"),
    _check("race-read-back", "race", "A created resource reads back another request's data",
           "A resource created under concurrency does not read back what its create answered: writes overwrote "
           "each other.", "critical"),
    # queries
    _check("query-count", "queries", "Too many SQL statements",
           "A test or request ran more SQL statements than its budget `max`. Load what is needed in fewer queries."),
    _check("n-plus-one", "queries", "N+1 queries",
           "The same statement shape ran once per item (more than `repeats` times): load the related rows in one "
           "query (a join, selectinload, prefetch_related)."),
    _check("queries-test", "queries", "A test that counted queries failed",
           "A test using query_counter or @pytest.mark.query_budget failed for another reason; its message says "
           "why."),
    # load
    _check("load-failures", "load", "Too many requests failed under load",
           "The share of failed requests is over the `failures` threshold; the message names the failing "
           "endpoints.", "critical"),
    _check("load-rps", "load", "Throughput under its minimum",
           "Requests per second stayed under the `rps` threshold for the configured users."),
    _check("load-endpoint-missing", "load", "No request reached an endpoint with thresholds",
           "The load run made no request to an endpoint that has thresholds, so they could not be checked. Fix "
           "the endpoint name or the locustfile.", "minor"),
    # acceptance (any gate with a ratcheted figure: acceptance/baseline.py RATCHETED)
    _check("ratchet", "coverage", "A figure fell below its baseline value",
           "A ratcheted figure (total coverage) may rise, not fall. Add the tests that covered the lost lines, or "
           "lower it on purpose with --backend-gates-update-baseline."),
)

# load-<time metric>: budget.py's time metrics (min, max, mean, median, pNN)
_LOAD_TIME = re.compile(r"load-(min|max|mean|median|p[0-9]+(?:\.[0-9]+)?)")


def _contract_check(name: str) -> Check:
    severity, title, help, owasp = _SCHEMATHESIS_TEXT[name]
    return _check(name, "contract", title, help, severity, owasp)


CHECKS: dict[str, Check] = {
    check.id: check for check in (
        *(_contract_check(name) for name in _SCHEMATHESIS_TEXT), *_SPECIFIC, *_security_checks())
}


def lookup(check_id: str, gate: str = "") -> Check:
    """The entry for a check id a gate reported; `gate` names the gate for ids nobody described."""
    found = CHECKS.get(check_id)
    if found is not None:
        return found
    match = _LOAD_TIME.fullmatch(check_id)
    if match is not None:
        metric = match[1]
        return _check(check_id, "load", f"Response time {metric} over its threshold under load",
                      f"The {metric} response time under load is over its threshold: find the slow endpoint in "
                      "the load table and make it faster, or add capacity.")
    if gate == "contract" or (not gate and _schemathesis_knows(check_id)):
        return _check(check_id, "contract", f"schemathesis check {check_id} failed",
                      _schemathesis_doc(check_id) or "A schemathesis check (a custom one registered by the project, "
                      "or one added by a newer schemathesis) failed; see its documentation.")
    return Check(check_id, gate or "unknown", f"{gate or 'gate'} check {check_id}",
                 f"Reported by the {gate or 'unknown'} gate, which does not describe its checks to "
                 "pytest-backend-gates; see that gate's documentation.", described=False)


def contract_check_ids() -> tuple[str, ...]:
    """Every check the contract gate can report: schemathesis' registry (what the run has loaded, the
    project's custom checks too) and the gate's own."""
    from schemathesis.checks import CHECKS as REGISTRY
    from schemathesis.checks import load_all_checks

    load_all_checks()
    return (*REGISTRY.get_all_names(), "require_success")


def _schemathesis_knows(name: str) -> bool:
    # Only when the run imported schemathesis (the contract gate ran): never imported for this.
    module = sys.modules.get("schemathesis.checks")
    return module is not None and name in module.CHECKS.get_all_names()


def _schemathesis_doc(name: str) -> str | None:
    module = sys.modules.get("schemathesis.checks")
    if module is None or name not in module.CHECKS.get_all_names():
        return None
    doc = (module.CHECKS.get_by_names([name])[0].__doc__ or "").strip()
    return " ".join(doc.split()) or None
