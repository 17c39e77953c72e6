"""The HTTP gates' use of schemathesis: its configuration, loading the OpenAPI schema, and
naming and matching the schema's operations. Reading the engine's events into outcomes is
engine_events.py's.

Only public schemathesis 4.x API is used: `schemathesis.Config`, `schemathesis.openapi`
loaders and the operations' strategies. schemathesis is imported in the functions that use it:
a run that imports this module without running a schemathesis gate never loads it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates import hostile as hostile_library
from pytest_backend_gates.service.in_flight import INTERNAL_HEADER
from pytest_backend_gates.service.schemathesis_base import merge, read_project_config
from pytest_backend_gates.service.target import (
    Target,
    TargetError,
    bind_to_app,
    check_loopback,
    schema_location,
)
from pytest_backend_gates.settings import ContractSettings
from pytest_backend_gates.text import did_you_mean

STATEFUL = "stateful"
UNIT_PHASES = ("examples", "coverage", "fuzzing")
# schemathesis' in-process hosts: "testserver" (ASGI) and "localhost" (WSGI)
IN_PROCESS_HOST = re.compile(r"https?://(?:testserver|localhost)(?=[/'\"\s?]|$)")


def engine_config(settings: ContractSettings, seed: int, phases: tuple[str, ...], target: Target | None,
                  hostile: bool = False, rootpath: Path | None = None) -> Any:
    """`hostile`: also draw string values from the hostile input library (security gate on).
    `rootpath`: find the project's schemathesis.toml from there, the base of these settings
    (service/schemathesis_base.py); the [tool.backend-gates.contract] keys written override it."""
    import schemathesis

    s = settings
    base, base_path = read_project_config(rootpath)
    written = s.written_keys
    generation: dict[str, Any] = {"database": "none"}
    if "max_examples" in written or "max-examples" not in base.get("generation", {}):
        generation["max-examples"] = s.max_examples
    data: dict[str, Any] = {
        "seed": seed,
        "generation": generation,
        "phases": {phase: {"enabled": phase in phases} for phase in (*UNIT_PHASES, STATEFUL)},
        # One defect must not hide another in the same operation: every distinct failure.
        "continue-on-failure": True,
        # We redact ourselves, to ${VAR} placeholders that keep a reproduction runnable.
        "output": {"sanitization": {"enabled": False}},
        # No .schemathesis/ cache in the user's tree, and no replayed requests: same seed, same run.
        "cache": {"enabled": False},
    }
    if "checks" in written or "checks" not in base:
        checks: dict[str, Any] = {"enabled": True} if s.checks == "all" else {"enabled": False}
        if s.checks != "all":
            checks.update({name: {"enabled": True} for name in s.checks})
        data["checks"] = checks
    if s.exclude_checks:
        data.setdefault("checks", {}).update({name: {"enabled": False} for name in s.exclude_checks})
    if hostile:
        values = [v for v in hostile_library.ALL if "\x00" not in v]
        data["dictionaries"] = {hostile_library.DICTIONARY: {"values": values}}
        data["generation"]["dictionaries"] = {"string": {"dictionary": hostile_library.DICTIONARY,
                                                         "probability": hostile_library.PROBABILITY}}
    if s.headers:
        data["headers"] = dict(s.headers)
    if target is not None and not target.in_process:
        data["base-url"] = target.base_url
    elif "base-url" in base:  # an in-process app: the base URL of a server does not apply
        base = {k: v for k, v in base.items() if k != "base-url"}
    try:
        return schemathesis.Config.from_dict(merge(base, data),
                                             base_dir=str(base_path.parent) if base_path else None)
    except Exception as exc:  # noqa: BLE001 - schemathesis' ConfigError, said with the file's name
        if base_path is None:
            raise
        raise TargetError(f"{base_path} (the base of the contract gate's settings) is not valid: "
                          f"{short_error(exc)}") from None


def load_schema(settings: ContractSettings, target: Target, rootpath: Path, config: Any, *,
                anonymous: bool = False, headers: Mapping[str, str] | None = None) -> Any:
    """The OpenAPI schema, bound to the target, fetched with the configured headers (a schema
    behind auth), without the operations in `exclude_operations`; TargetError says why it
    cannot be loaded. Every HTTP gate loads it here, so exclusions hold for all of them.

    `headers`: instead of the configured ones (an identity's). `anonymous`: without the headers, for a request that must not reach the app's database (a
    Django app under pytest-django at collection, before any test database exists: checking a
    token is a query)."""
    import schemathesis

    kind, where = schema_location(settings.schema, rootpath)
    headers = {} if anonymous else dict(settings.headers if headers is None else headers)
    if target.in_process and kind != "url":
        headers[INTERNAL_HEADER] = "schema"  # not a request of the API: no gate counts it
    if kind == "url":  # config.py refuses it already; this holds for settings built another way
        check_loopback(where, settings.allow_remote, key="schema")
    try:
        if kind == "file":
            schema = schemathesis.openapi.from_path(where, config=config)
            schema.app = target.app
        elif kind == "url":
            schema = schemathesis.openapi.from_url(where, config=config, headers=headers)
            if target.in_process:
                bind_to_app(schema, target, where)
        elif target.kind == "asgi":
            schema = schemathesis.openapi.from_asgi(where, target.app, config=config, headers=headers)
        elif target.kind == "wsgi":
            schema = schemathesis.openapi.from_wsgi(where, target.app, config=config, headers=headers)
        else:
            schema = schemathesis.openapi.from_url(target.base_url + where, config=config, headers=headers)
    except Exception as exc:
        source = where if kind != "path" else f"{target.description if target.in_process else target.base_url}{where}"
        hint = ""
        if any(f" {code}" in str(exc) for code in ("401", "403")):
            hint = (" (the schema is behind authentication: [tool.backend-gates.contract] headers are sent with "
                    "the schema request; check they hold valid credentials)" if settings.headers else
                    " (the schema is behind authentication: give the gates an identity that logs in "
                    "([tool.backend-gates.identities.NAME], docs/auth.md) or set [tool.backend-gates.contract] headers, e.g. "
                    "{ Authorization = \"Bearer ${API_TOKEN}\" })")
        raise TargetError(f"could not load the OpenAPI schema from {source}: {short_error(exc)}{hint}") from exc
    if settings.exclude_operations:
        return schema.exclude(func=lambda ctx: excluded(ctx.operation, settings.exclude_operations))
    return schema


def schema_fetched_over_the_network(settings: ContractSettings, rootpath: Path) -> bool:
    """The schema comes from a server (a URL, or a path on base_url): `--collect-only` then lists
    no gate item rather than send a request."""
    try:
        kind, _ = schema_location(settings.schema, rootpath)
    except TargetError:
        return False
    return kind == "url" or (kind == "path" and settings.base_url is not None)


def excluded(operation: Any, globs: tuple[str, ...]) -> bool:
    """Whether `exclude_operations` names the operation, by its schema path or its served path
    (with the base path of `servers`, e.g. Connexion's /api)."""
    return any(operation_matches(glob, operation.method, path)
               for glob in globs for path in {operation.path, operation.full_path})


def operation_matches(glob: str, method: str, path: str) -> bool:
    glob_method, _, glob_path = glob.partition(" ")
    return fnmatch.fnmatchcase(method.upper(), glob_method.upper()) and fnmatch.fnmatchcase(path, glob_path)


def operation_resolver(schema: Any) -> Callable[[str, str], str | None]:
    """(method, served path) -> the operation's label ('GET /items/{item_id}'), or None. A literal
    segment wins over a template one (/users/me before /users/{id})."""
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    routes: list[tuple[tuple[int, int], str, re.Pattern[str], str]] = []
    for path, item in (schema.raw_schema.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        pattern = re.compile("^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(schema.get_full_path(path))) + "/?$")
        templated = path.count("{")
        for method in item:
            if method in methods:
                routes.append(((templated, -len(path)), method.upper(), pattern, f"{method.upper()} {path}"))
    routes.sort(key=lambda route: route[0])

    def resolve(method: str, path: str) -> str | None:
        return next((label for _, verb, pattern, label in routes if verb == method.upper() and pattern.match(path)),
                    None)

    return resolve


def unmatched_exclusions(schema: Any, globs: tuple[str, ...]) -> list[str]:
    """The `exclude_operations` globs that name no operation the schema describes."""
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    operations = [(method, path, schema.get_full_path(path))
                  for path, item in (schema.raw_schema.get("paths") or {}).items() if isinstance(item, dict)
                  for method in item if method in methods]
    return [glob for glob in globs
            if not any(operation_matches(glob, method, path) or operation_matches(glob, method, full)
                       for method, path, full in operations)]


def validate_checks(settings: ContractSettings) -> None:
    """Check names against schemathesis' registry (custom checks from conftest included)."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    known = CHECKS.get_all_names()
    listed = [] if settings.checks == "all" else list(settings.checks)
    for key, names in (("checks", listed), ("exclude_checks", list(settings.exclude_checks))):
        for name in names:
            if name not in known:
                raise pytest.UsageError(
                    f"[tool.backend-gates.contract] {key}: {name!r} is not a schemathesis check; "
                    f"{did_you_mean(name, known)}checks: {', '.join(known)}"
                )


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def operation_strategy(operation: Any, **kwargs: Any) -> Any:
    """`operation.as_strategy(**kwargs)` without the constants schemathesis harvests from the app's
    modules: schema-derived values are what the probes need, and schemathesis 4.32 can fail with
    "unhashable type: 'GeneratedValue'" while mixing those constants in. `FeedbackSources` is not
    exported publicly, hence the fallback."""
    try:
        from schemathesis.generation.feedback import FeedbackSources
    except ImportError:
        return operation.as_strategy(**kwargs)
    return operation.as_strategy(feedback=FeedbackSources(), **kwargs)
