"""`[tool.backend-gates]`: read once, validated, turned into typed settings.

Nothing else in the plugin reads raw TOML. Every problem found is collected
and reported together as one :class:`ConfigError`, each line naming the table,
the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from . import limits
from .budget import Budget, BudgetError, parse_budget, parse_duration
from .limits import seconds_text
from .redaction import MissingVariable, Redactor, interpolate

GATE_NAMES: tuple[str, ...] = (
    "contract",
    "security",
    "validation",
    "latency",
    "coverage",
    "race",
    "queries",
    "load",
)
ROOT_TABLE = "tool.backend-gates"

SECURITY_RULES: tuple[str, ...] = (
    "leak-traceback",
    "leak-sql-error",
    "leak-debug-page",
    "server-banner",
    "header-missing",
    "sensitive-field",
    "xss-reflected",
    "sqli-error",
    "rate-limit",
    "auth-ignored",
    "cors",
    "cookie-flags",
    "mass-assignment",
)
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

T = TypeVar("T")


class ConfigError(Exception):
    """Invalid configuration; each message is one line a user can act on."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


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


@dataclass(frozen=True)
class SecuritySettings:
    # None: not configured, DEFAULT_REQUIRED_HEADERS apply (missing from answers with nothing to sniff: a warning)
    required_headers: tuple[str, ...] | None = None
    forbid_leaks: bool = True
    sensitive_fields: tuple[str, ...] = DEFAULT_SENSITIVE_FIELDS
    rate_limits: Mapping[str, int] = field(default_factory=dict)
    rules: Mapping[str, Severity] = field(default_factory=dict)


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


@dataclass(frozen=True)
class GatesConfig:
    """Everything in `[tool.backend-gates]`, validated."""

    path: Path | None  # the pyproject.toml it came from
    report: Path | None = None
    # gate name -> its settings object; only gates that have a table are present
    tables: Mapping[str, Any] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)

    def settings(self, gate: str) -> Any:
        return self.tables.get(gate)


# --------------------------------------------------------------------------
# Reading one table
# --------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A raw TOML value as the user wrote it (never interpolated)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


class Table:
    """Typed access to one TOML table; problems are collected, not raised."""

    def __init__(
        self,
        name: str,
        raw: Mapping[str, Any],
        errors: list[str],
        redactor: Redactor,
        environ: Mapping[str, str],
    ) -> None:
        self.name = name
        self._raw = raw
        self._errors = errors
        self._redactor = redactor
        self._environ = environ
        self._read: set[str] = set()

    # -- reporting ---------------------------------------------------------
    def error(self, key: str, value: Any, problem: str) -> None:
        self._errors.append(f"[{self.name}] {key}: {_show(value)} {problem}")

    def missing(self, key: str, expected: str) -> None:
        self.problem(key, f"missing; expected {expected}")

    def problem(self, key: str, text: str) -> None:
        """A problem with a key whose value need not be shown (or was shown in `text`)."""
        self._errors.append(f"[{self.name}] {key}: {text}")

    def raw(self, key: str) -> Any:
        return self._raw.get(key)

    # -- access --------------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self._raw

    def _take(self, key: str) -> Any:
        self._read.add(key)
        return self._raw.get(key)

    def _expand(self, key: str, value: str, *, secret: bool = True) -> str | None:
        """`secret=False` for values that cannot carry one (durations, lists of names): their
        environment values are not redacted, nor warned about when short."""
        try:
            return interpolate(value, self._environ, self._redactor if secret else None, f"[{self.name}] {key}")
        except MissingVariable as exc:
            self.error(key, value, f"uses environment variable {exc.name}, which is not set")
            return None

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self._take(key)
        return default if value is None else self.string_value(key, value, default)

    def string_value(self, key: str, value: Any, default: str | None = None) -> str | None:
        if not isinstance(value, str):
            self.error(key, value, "is not a string")
            return default
        return self._expand(key, value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._take(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(key, value, "is not a boolean; expected true or false")
            return default
        return value

    def integer(self, key: str, default: T, *, minimum: int = 0, maximum: int | None = None) -> int | T:
        value = self._take(key)
        if value is None:
            return default
        return self._check_int(key, value, default, minimum, maximum)

    def _check_int(self, key: str, value: Any, default: T, minimum: int, maximum: int | None) -> int | T:
        allowed = f"an integer of at least {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, value, f"is not an integer; expected {allowed}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            self.error(key, value, f"is out of range; expected {allowed}")
            return default
        return value

    def number(self, key: str, default: T, *, minimum: float = 0.0, exclusive: bool = False,
               maximum: float | None = None) -> float | T:
        value = self._take(key)
        if value is None:
            return default
        allowed = f"a number {'above' if exclusive else 'of at least'} {minimum:g}"
        if maximum is not None:
            allowed += f" and at most {maximum:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(key, value, f"is not a number; expected {allowed}")
            return default
        if not math.isfinite(value):
            self.error(key, value, f"is not a finite number; expected {allowed}")
            return default
        if value < minimum or (exclusive and value == minimum) or (maximum is not None and value > maximum):
            self.error(key, value, f"is out of range; expected {allowed}")
            return default
        return float(value)

    def percent(self, key: str, default: float | None = None) -> float | None:
        value = self._take(key)
        if value is None:
            return default
        return self._check_percent(key, value, default)

    def _check_percent(self, key: str, value: Any, default: float | None) -> float | None:
        allowed = "a percentage from 0 to 100 (a number, without '%')"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(key, value, f"is not a number; expected {allowed}")
            return default
        if not math.isfinite(value):
            self.error(key, value, f"is not a finite number; expected {allowed}")
            return default
        if not 0 <= value <= 100:
            self.error(key, value, f"is out of range; expected {allowed}")
            return default
        return float(value)

    def duration(self, key: str, default: float, *, maximum: float | None = None, positive: bool = False) -> float:
        """Seconds; `positive`: above 0 (else at least 0); `maximum`: at most that many seconds."""
        value = self._take(key)
        if value is None:
            return default
        allowed = "above 0s" if positive else "from 0s"
        if maximum is not None:
            allowed += f" {'and at most' if positive else 'to'} {seconds_text(maximum)}"
        text = self._expand(key, value, secret=False) if isinstance(value, str) else None
        if text is None:
            if not isinstance(value, str):
                self.error(key, value, f"is not a duration; expected a string such as '15s' or '500ms', {allowed}")
            return default
        try:
            seconds = parse_duration(text)
        except BudgetError as exc:
            why = "is not a finite duration" if "finite" in str(exc) else "is not a duration"
            self.error(key, value, f"{why}; expected e.g. '15s' or '500ms', {allowed}")
            return default
        if (positive and seconds <= 0) or (maximum is not None and seconds > maximum):
            self.error(key, value, f"is out of range; expected a duration {allowed}")
            return default
        return seconds

    def strings(self, key: str, default: tuple[str, ...] = (), *, allow_single: bool = False) -> tuple[str, ...]:
        value = self._take(key)
        if value is None:
            return default
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.error(key, value, "is not a list of strings; expected e.g. [\"a\", \"b\"]")
            return default
        expanded = [self._expand(key, item, secret=False) for item in value]
        return tuple(item for item in expanded if item is not None)

    def choice(self, key: str, value: Any, choices: tuple[str, ...]) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        self.error(key, value, f"is not allowed; {hint}expected one of {', '.join(choices)}")
        return None

    def table(self, key: str) -> dict[str, Any]:
        """A sub-table (inline or not); its entries are checked by the caller."""
        value = self._take(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(key, value, "is not a table; expected e.g. { \"key\" = value }")
            return {}
        return value

    def entries(self, key: str, read: Callable[[str, Any], T | None]) -> dict[str, T]:
        """Each entry of a sub-table read by `read(entry_key_path, value)`."""
        result: dict[str, T] = {}
        for entry, value in self.table(key).items():
            item = read(f"{key}.{_key(entry)}", value)
            if item is not None:
                result[entry] = item
        return result

    def budgets(self, key: str, value: Any) -> tuple[Budget, ...] | None:
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self.error(key, value, "is not a budget; expected a string such as 'p95 < 50ms' or a list of them")
            return None
        parsed: list[Budget] = []
        for text in texts:
            try:
                parsed.append(parse_budget(text))
            except BudgetError as exc:
                self.problem(key, str(exc))
        return tuple(parsed) if len(parsed) == len(texts) else None

    def finish(self, allowed: tuple[str, ...]) -> None:
        for key in self._raw:
            if key not in allowed:
                self.problem(_key(key), f"unknown key; {did_you_mean(key, allowed)}allowed keys: {', '.join(allowed)}")


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
    )


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
    master_bind = t.string("master_bind")
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
    )


# A table's parser, and the keys it allows (for "unknown key" / did-you-mean).
TableParser = Callable[[Table], Any]
BUILTIN_PARSERS: dict[str, tuple[TableParser, tuple[str, ...]]] = {
    "contract": (parse_contract, tuple(ContractSettings.__dataclass_fields__)),
    "security": (parse_security, tuple(SecuritySettings.__dataclass_fields__)),
    "validation": (parse_validation, tuple(ValidationSettings.__dataclass_fields__)),
    "latency": (parse_latency, tuple(LatencySettings.__dataclass_fields__)),
    "coverage": (parse_coverage, tuple(CoverageSettings.__dataclass_fields__)),
    "race": (parse_race, tuple(RaceSettings.__dataclass_fields__)),
    "queries": (parse_queries, tuple(QueriesSettings.__dataclass_fields__)),
    "load": (parse_load, tuple(LoadSettings.__dataclass_fields__)),
}


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
    extra_parsers: Mapping[str, tuple[TableParser, tuple[str, ...]]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> GatesConfig:
    """Read and validate `[tool.backend-gates]` from `path` (None: empty)."""
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
    return parse_section(section, path, extra_parsers or {}, os.environ if environ is None else environ)


def parse_section(
    section: Any,
    path: Path,
    extra_parsers: Mapping[str, tuple[TableParser, tuple[str, ...]]],
    environ: Mapping[str, str],
) -> GatesConfig:
    errors: list[str] = []
    redactor = Redactor()
    if not isinstance(section, dict):
        raise ConfigError([f"[{ROOT_TABLE}]: is not a table; expected a [{ROOT_TABLE}] section"])
    parsers = {**BUILTIN_PARSERS, **extra_parsers}
    root = Table(ROOT_TABLE, section, errors, redactor, environ)
    report = root.string("report")
    if report is not None and not report.strip():  # else nothing is written, silently
        root.error("report", section.get("report"), "is empty; expected a file path such as 'backend-gates.json' "
                   "(or leave the key out for no JSON report)")
    tables: dict[str, Any] = {}
    for name, raw in section.items():
        if name == "report":
            continue
        if name not in parsers and not isinstance(raw, dict):
            root.problem(_key(name), f"unknown key; {did_you_mean(name, ['report'])}allowed top-level keys: report "
                         f"and the gate tables {', '.join(parsers)}")
            continue
        if name not in parsers:
            errors.append(
                f"[{ROOT_TABLE}.{name}]: unknown gate or key {name!r}; {did_you_mean(name, [*parsers, 'report'])}"
                f"gates: {', '.join(parsers)}; top-level keys: report"
            )
            continue
        if not isinstance(raw, dict):
            root.error(name, raw, f"is not a table; expected a [{ROOT_TABLE}.{name}] section")
            continue
        parse, allowed = parsers[name]
        table = Table(f"{ROOT_TABLE}.{name}", raw, errors, redactor, environ)
        tables[name] = parse(table)
        table.finish(allowed)
    if errors:
        raise ConfigError(errors)
    return GatesConfig(
        path=path,
        report=(path.parent / report) if report else None,
        tables=tables,
        redactor=redactor,
    )
