"""Typed settings, one class per gate table, and the parser that fills each from its table.

The classes are read by gates and by the service layer (the contract table describes the
service under test), so they live below both; gates/registry.py pairs each with its gate.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_backend_gates import limits
from pytest_backend_gates.budget import Budget
from pytest_backend_gates.config import Table
from pytest_backend_gates.diff_settings import DiffSettings, parse_diff
from pytest_backend_gates.security_rules import RULE_IDS
from pytest_backend_gates.text import did_you_mean

SECURITY_RULES: tuple[str, ...] = RULE_IDS  # the ids of the one rule table (security_rules.py)
Severity = Literal["fail", "warn", "ignore"]
SEVERITIES: tuple[str, ...] = ("fail", "warn", "ignore")
RACE_SCHEDULES: tuple[str, ...] = ("stagger", "controlled", "none")
DEFAULT_REQUIRED_HEADERS: tuple[str, ...] = ("X-Content-Type-Options",)
# Not "token": a login answering with its token is the point of a login. Add it where
# tokens must never come back (SPEC's example does).
DEFAULT_SENSITIVE_FIELDS: tuple[str, ...] = (
    "password",
    "password_hash",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "private_key",
)

# "GET /items", "post /items/{id}" ...
_OPERATION = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE) /\S*$", re.IGNORECASE)

# --------------------------------------------------------------------------
# Typed settings, one class per gate table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractSettings:
    app: str | None = None
    base_url: str | None = None
    schema: str = "/openapi.json"
    max_examples: int = 50
    checks: tuple[str, ...] | Literal["all"] = "all"
    exclude_checks: tuple[str, ...] = ()
    stateful: bool = True
    max_time: float = 300.0  # seconds
    # extension: "error" (default): reaching max_time before every operation was tested is the gate's
    # error; "warn": the user accepts a partial run, judged on what ran, the rest named in a warning.
    on_max_time: Literal["error", "warn"] = "error"
    require_success: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    allow_remote: bool = False
    seed: int | None = None  # extension: fixed seed instead of a random one
    # Globs over 'METHOD /path' kept away from every HTTP gate (POST /logout, DELETE /users/*).
    exclude_operations: tuple[str, ...] = ()
    # The keys written in the table: they override a project's schemathesis.toml, the others do not.
    written_keys: frozenset[str] = field(default=frozenset(), metadata={"not_a_key": True})


@dataclass(frozen=True)
class SecuritySettings:
    # None: not configured, DEFAULT_REQUIRED_HEADERS apply (missing from answers with nothing to sniff: a warning)
    required_headers: tuple[str, ...] | None = None
    forbid_leaks: bool = True
    sensitive_fields: tuple[str, ...] = DEFAULT_SENSITIVE_FIELDS
    rate_limits: Mapping[str, int] = field(default_factory=dict)
    rules: Mapping[str, Severity] = field(default_factory=dict)
    # With identities (SPEC section 8): 'METHOD /path' globs only role = "admin" may call, globs
    # any identity may call on another's resource, and the service's JWT key (HS* secret, or the
    # absolute path of a PEM file) that lets the jwt probe mint expired tokens.
    admin_only: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    jwt_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ValidationSettings:
    # None: hypothesis' own setting (the active profile's, 100 unless the user changed it)
    max_examples: int | None = None
    deadline: float = 1.0  # extension: seconds one call of the checked function may take


@dataclass(frozen=True)
class LatencySettings:
    samples: int = 50
    budgets: Mapping[str, tuple[Budget, ...]] = field(default_factory=dict)
    regression: float | None = None  # extension: allowed slowdown in percent


@dataclass(frozen=True)
class CoverageSettings:
    source: tuple[str, ...] = ()
    total: float | None = None
    branch: bool = False
    branches: float | None = None
    files: Mapping[str, float] = field(default_factory=dict)
    diff: DiffSettings | None = None


@dataclass(frozen=True)
class RaceSettings:
    threads: int = 8
    rounds: int = 20
    auto: bool = False
    schedule: str = "stagger"  # extension: "stagger" (seeded GIL hand-offs), "controlled" or "none"


@dataclass(frozen=True)
class QueriesSettings:
    max_per_request: int | None = None
    max_repeats: int | None = None


@dataclass(frozen=True)
class LoadSettings:
    locustfile: str | None = None
    users: int = 10
    spawn_rate: float = 10.0
    duration: float = 15.0  # seconds
    thresholds: tuple[Budget, ...] = ()
    thresholds_per_endpoint: Mapping[str, tuple[Budget, ...]] = field(default_factory=dict)
    workers: int = 0
    # extensions (docs/load.md)
    margin: float = 10.0  # seconds locust may take past `duration` to stop and report before it is killed
    remote_workers: int = 0  # workers on other machines the master waits for
    master_bind: str | None = None  # "HOST:PORT" the master listens on (default 127.0.0.1, a free port)
    workers_timeout: float = 30.0  # seconds the master waits for all its workers to connect


# --------------------------------------------------------------------------
# One parser per gate table
# --------------------------------------------------------------------------


def _operation_key(table: Table, key: str) -> bool:
    operation = key.split(".", 1)[1].strip('"')
    if _OPERATION.match(operation):
        return True
    table.problem(key, "not an API operation; expected 'METHOD /path' such as 'POST /login'")
    return False


def parse_contract(t: Table) -> ContractSettings:
    app = t.string("app")
    base_url = t.string("base_url")
    if app is not None and base_url is not None:
        t.error("base_url", t.raw("base_url"),
                "is set together with app; set one of them: app for an in-process app, base_url for a running server")
    elif app is None and base_url is None and not (t.has("app") or t.has("base_url")):
        t.missing("app", "the app as 'module:attr' (or 'module:factory()'), or base_url = 'http://127.0.0.1:8000'")
    if app is not None and not re.fullmatch(r"[\w.]+:[\w.]+(\(\))?", app):
        t.error("app", t.raw("app"), "is not an import path; expected 'module:attr' or 'module:factory()', e.g. 'shop.main:app'")
    if base_url is not None and not re.match(r"^https?://[^/\s]+", base_url):
        t.error("base_url", t.raw("base_url"), "is not an http(s) URL; expected e.g. 'http://127.0.0.1:8000'")
    checks_raw = t._take("checks")
    checks: tuple[str, ...] | Literal["all"] = "all"
    if checks_raw is not None and checks_raw != "all":
        if isinstance(checks_raw, list) and checks_raw and all(isinstance(c, str) for c in checks_raw):
            checks = tuple(checks_raw)
        else:
            t.error("checks", checks_raw, "is not allowed; expected \"all\" or a non-empty list of schemathesis check names")
    headers = t.entries("headers", t.string_value)
    settings = ContractSettings(
        app=app,
        base_url=base_url,
        schema=t.string("schema", "/openapi.json") or "/openapi.json",
        max_examples=t.integer("max_examples", 50, minimum=1, maximum=limits.MAX_EXAMPLES),
        checks=checks,
        exclude_checks=t.strings("exclude_checks"),
        stateful=t.boolean("stateful", True),
        max_time=t.duration("max_time", 300.0, maximum=limits.MAX_CONTRACT_TIME, positive=True),
        on_max_time=_on_max_time(t),
        require_success=t.boolean("require_success", False),
        headers=headers,
        allow_remote=t.boolean("allow_remote", False),
        seed=t.integer("seed", None, minimum=0, maximum=limits.MAX_SEED),
        exclude_operations=_operation_globs(t, "exclude_operations"),
        written_keys=t.keys,
    )
    _refuse_remote_schema(t, settings)
    return settings


def is_loopback_url(url: str) -> bool:
    """Whether `url`'s host is this machine: 127.0.0.0/8, ::1 or localhost (no name is resolved)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_remote_schema(t: Table, settings: ContractSettings) -> None:
    """A schema URL is fetched before any gate runs: on another host, only with allow_remote."""
    schema = settings.schema
    if schema.startswith(("http://", "https://")) and not settings.allow_remote and not is_loopback_url(schema):
        t.error("schema", t.raw("schema"), "is not on a loopback host (127.0.0.0/8, ::1 or localhost): the schema "
                "is fetched from it, so it must be on this machine unless you set allow_remote = true (the "
                "generated requests still go to app or base_url, never to the schema's host)")


def _on_max_time(t: Table) -> Literal["error", "warn"]:
    value = t._take("on_max_time")
    return "warn" if value is not None and t.choice("on_max_time", value, ("error", "warn")) == "warn" else "error"


# 'METHOD /path' where both parts may hold globs: "DELETE /users/*", "* /admin/*"
_OPERATION_GLOB = re.compile(r"^(\*|[A-Za-z]+) /\S*$")


def _operation_globs(t: Table, key: str) -> tuple[str, ...]:
    globs = t.strings(key)
    for glob in globs:
        if not _OPERATION_GLOB.match(glob):
            t.error(key, glob, "is not an operation glob; expected 'METHOD /path' with * where anything goes, "
                    "e.g. 'POST /logout', 'DELETE /users/*', '* /admin/*'")
    return globs


def parse_security(t: Table) -> SecuritySettings:
    def rate_limit(key: str, value: Any) -> int | None:
        if not _operation_key(t, key):
            return None
        return t._check_int(key, value, None, 1, limits.MAX_RATE_LIMIT)

    def severity(key: str, value: Any) -> str | None:
        rule = key.split(".", 1)[1].strip('"')
        if rule not in SECURITY_RULES:
            t.problem(key, f"unknown rule; {did_you_mean(rule, SECURITY_RULES)}rules: {', '.join(SECURITY_RULES)}")
            return None
        return t.choice(key, value, SEVERITIES)

    return SecuritySettings(
        required_headers=t.strings("required_headers") if t.has("required_headers") else None,
        forbid_leaks=t.boolean("forbid_leaks", True),
        sensitive_fields=t.strings("sensitive_fields", DEFAULT_SENSITIVE_FIELDS),
        rate_limits=t.entries("rate_limits", rate_limit),
        rules=t.entries("rules", severity),  # type: ignore[arg-type]
        admin_only=_operation_globs(t, "admin_only"),
        shared=_operation_globs(t, "shared"),
        jwt_key=_jwt_key(t),
    )


def _jwt_key(t: Table) -> str | None:
    """An HS* secret (a literal is redacted like a ${ENV} value), or a PEM file: '*.pem' / '*.key',
    relative to pyproject.toml, holding a private key."""
    raw = t.raw("jwt_key")
    key = t.secret("jwt_key")
    if key is None:
        return None
    allowed = "expected the service's HS256/384/512 secret, e.g. \"${JWT_SECRET}\", or the path of a PEM private key"
    if not key.strip():
        t.error("jwt_key", raw, f"is empty; {allowed}")
        return None
    if not key.lower().endswith((".pem", ".key")):
        return key
    path = t.base / key if t.base is not None else Path(key)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        t.error("jwt_key", raw, f"names a PEM file that cannot be read ({exc.strerror}: {path}); {allowed}")
        return None
    if "-----BEGIN" not in text or "PRIVATE KEY-----" not in text:
        t.error("jwt_key", raw, f"names a file without a PEM private key ({path}); {allowed} "
                "('-----BEGIN ... PRIVATE KEY-----')")
        return None
    return str(path.resolve())


def parse_validation(t: Table) -> ValidationSettings:
    return ValidationSettings(max_examples=t.integer("max_examples", None, minimum=1, maximum=limits.MAX_EXAMPLES),
                              deadline=t.duration("deadline", 1.0, maximum=limits.MAX_DEADLINE, positive=True))


def _latency_target_ok(t: Table, key: str) -> bool:
    target = key.split(".", 1)[1].strip('"')
    if _OPERATION.match(target) or "::" in target:
        return True
    t.problem(
        key,
        "not a budget target; expected an API operation such as 'GET /items' "
        "or a test node id such as 'tests/test_perf.py::test_hash'",
    )
    return False


def parse_latency(t: Table) -> LatencySettings:
    regression: float | None = None
    raw = t._take("regression")
    if raw is not None:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", raw) if isinstance(raw, str) else None
        allowed = f"a percentage from 0% to {limits.MAX_REGRESSION:g}%, e.g. '10%'"
        if match is None:
            t.error("regression", raw, f"is not a percentage; expected {allowed}")
        elif float(match.group(1)) > limits.MAX_REGRESSION:
            t.error("regression", raw, f"is out of range; expected {allowed}")
        else:
            regression = float(match.group(1))
    return LatencySettings(
        samples=t.integer("samples", 50, minimum=1, maximum=limits.MAX_SAMPLES),
        budgets=t.entries("budgets", lambda k, v: t.budgets(k, v) if _latency_target_ok(t, k) else None),
        regression=regression,
    )


def parse_coverage(t: Table) -> CoverageSettings:
    branch = t.boolean("branch", False)
    branches = t.percent("branches")
    if branches is not None and not branch:
        t.error("branches", t.raw("branches"), "needs branch = true, so that coverage.py measures branches")
    return CoverageSettings(
        source=t.strings("source", allow_single=True),
        total=t.percent("total"),
        branch=branch,
        branches=branches,
        files=t.entries("files", lambda k, v: t._check_percent(k, v, None)),
        diff=parse_diff(t),
    )


def parse_race(t: Table) -> RaceSettings:
    schedule = t._take("schedule")
    return RaceSettings(
        threads=t.integer("threads", 8, minimum=2, maximum=limits.MAX_THREADS),
        rounds=t.integer("rounds", 20, minimum=1, maximum=limits.MAX_ROUNDS),
        auto=t.boolean("auto", False),
        schedule="stagger" if schedule is None else (t.choice("schedule", schedule, RACE_SCHEDULES) or "stagger"),
    )


def parse_queries(t: Table) -> QueriesSettings:
    return QueriesSettings(
        max_per_request=t.integer("max_per_request", None, minimum=1, maximum=limits.MAX_QUERIES),
        max_repeats=t.integer("max_repeats", None, minimum=1, maximum=limits.MAX_QUERIES),
    )


def parse_load(t: Table) -> LoadSettings:
    thresholds_raw = t._take("thresholds")
    thresholds: tuple[Budget, ...] = ()
    if thresholds_raw is not None:
        thresholds = t.budgets("thresholds", thresholds_raw) or ()

    def endpoint(key: str, value: Any) -> tuple[Budget, ...] | None:
        return t.budgets(key, value) if _operation_key(t, key) else None

    remote_workers = t.integer("remote_workers", 0, minimum=0, maximum=limits.MAX_REMOTE_WORKERS)
    # An address the workers are told to connect to: shown as it is, even when it comes from ${ENV}.
    master_bind = t.string("master_bind", secret=False)
    if master_bind is not None and not re.fullmatch(r"[^\s:]+:\d{1,5}", master_bind):
        t.error("master_bind", t.raw("master_bind"), "is not HOST:PORT; expected e.g. '0.0.0.0:5557'")
    elif master_bind is not None and not 1 <= int(master_bind.rpartition(":")[2]) <= 65535:
        t.error("master_bind", t.raw("master_bind"), "has a port out of range; expected HOST:PORT with a port "
                "from 1 to 65535, e.g. '0.0.0.0:5557'")
    if remote_workers and not t.has("locustfile"):
        t.error("remote_workers", remote_workers, "needs a locustfile: workers on other machines run "
                "`locust -f <locustfile> --worker --master-host <this machine>`")
    if remote_workers and master_bind is None:
        t.error("remote_workers", remote_workers, "needs master_bind, e.g. '0.0.0.0:5557', so that workers on "
                "other machines can reach the master")

    return LoadSettings(
        locustfile=t.string("locustfile"),
        users=t.integer("users", 10, minimum=1, maximum=limits.MAX_USERS),
        spawn_rate=t.number("spawn_rate", 10.0, minimum=0.0, exclusive=True, maximum=limits.MAX_SPAWN_RATE),
        duration=t.duration("duration", 15.0, maximum=limits.MAX_LOAD_DURATION, positive=True),
        thresholds=thresholds,
        thresholds_per_endpoint=t.entries("thresholds_per_endpoint", endpoint),
        workers=t.integer("workers", 0, minimum=0, maximum=limits.MAX_WORKERS),
        margin=t.duration("margin", 10.0, maximum=limits.MAX_LOAD_MARGIN),
        remote_workers=remote_workers,
        master_bind=master_bind,
        workers_timeout=t.duration("workers_timeout", 30.0, maximum=limits.MAX_WORKERS_TIMEOUT, positive=True),
    )


