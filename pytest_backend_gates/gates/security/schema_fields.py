"""What the security probes read from an operation's schema: its string inputs (where the
injection payloads go), a path value likely to name an existing resource, the fields a client
must not set (mass assignment) and a value of their type that differs from the server's, and
the apiKey credentials the document declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from pytest_backend_gates import hostile
from pytest_backend_gates.gates.security.probe_types import ProbeRequest

# A value no real record holds, so an echo of it is the server accepting ours.
PROBE_STRING = f"{hostile.MARK}-admin"
PROBE_INTEGER = 7919_000_001


def string_slots(operation: Any, base: ProbeRequest) -> Iterator[tuple[str, Callable[[str], ProbeRequest]]]:
    """(name, function) per string input of the request: payload -> a copy of `base` with it there."""
    for parameter in operation.iter_parameters():
        location = str(getattr(parameter.location, "value", parameter.location))
        if location not in ("query", "path") or not _is_string(parameter.optimized_schema):
            continue

        def mutate(payload: str, name: str = parameter.name, where: str = location) -> ProbeRequest:
            request = replace(base, path_parameters=dict(base.path_parameters), query=dict(base.query))
            (request.path_parameters if where == "path" else request.query)[name] = payload
            return request

        yield f"{location} parameter {parameter.name!r}", mutate
    for body in operation.body:
        if body.media_type != base.media_type or not isinstance(base.body, dict):
            continue
        schema = _bundled_root(body.optimized_schema)
        schema = schema if isinstance(schema, dict) else {}
        for name, prop in (schema.get("properties") or {}).items():
            if not _is_string(prop) or prop.get("readOnly"):
                continue

            def mutate_body(payload: str, name: str = name) -> ProbeRequest:
                return replace(base, body={**base.body, name: payload})

            yield f"body field {name!r}", mutate_body


def existing_id(parameter: Any) -> Any:
    """A path value likely to name an existing resource: the documented example, else for an
    integer id its lowest allowed value (>= 1: databases count from 1). None: keep hypothesis' value."""
    definition = parameter.definition if isinstance(parameter.definition, dict) else {}
    schema = parameter.optimized_schema if isinstance(parameter.optimized_schema, dict) else {}
    if "example" in definition:
        return definition["example"]
    for examples in (definition.get("examples"), schema.get("examples")):
        if isinstance(examples, dict) and examples:
            first = next(iter(examples.values()))
            return first.get("value") if isinstance(first, dict) else first
        if isinstance(examples, list) and examples:
            return examples[0]
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "integer":
        lowest = max(int(schema.get("minimum", 1)), 1)
        return lowest if lowest <= schema.get("maximum", lowest) else None
    return None


def _is_string(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    return (kind == "string" or (isinstance(kind, list) and "string" in kind)) and "enum" not in schema \
        and "format" not in schema


def assignable_candidates(operation: Any) -> dict[str, dict[str, Any]]:
    """Fields a client must not set: readOnly in the request body, or in a 2xx response's object
    but not declared in the request body."""
    request_props: dict[str, Any] = {}
    candidates: dict[str, dict[str, Any]] = {}
    for body in operation.body:
        schema = _bundled_root(body.optimized_schema)
        schema = schema if isinstance(schema, dict) else {}
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get("readOnly"):
                candidates[name] = prop
            elif prop != {"not": {}}:  # schemathesis turns a readOnly property of a request into "never"
                request_props[name] = prop
    for status, response in operation.responses.items():
        if not str(status).startswith("2"):
            continue
        try:
            resolved = response.get_schema()
        except Exception:
            continue
        answer = _bundled_root(getattr(resolved, "schema", None))
        if not isinstance(answer, dict):
            continue
        for name, prop in (answer.get("properties") or {}).items():
            if name not in request_props and isinstance(prop, dict):
                candidates.setdefault(name, prop)
        break
    return candidates


def _bundled_root(schema: Any) -> Any:
    """A response schema as schemathesis resolves it: a model that nests others (an order and its
    items, what most real APIs answer) comes as `{"$ref": "#/x-bundled/schema000001", "x-bundled":
    {...}}`; the object is the bundle's entry the root `$ref` names."""
    if not isinstance(schema, dict):
        return schema
    bundle = schema.get("x-bundled")
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and isinstance(bundle, dict) \
            and schema["$ref"].startswith("#/x-bundled/") and seen < 8:  # bounded: a ref to a ref
        schema = bundle.get(schema["$ref"].rsplit("/", 1)[1])
        seen += 1
    return schema


def different_value(schema: dict[str, Any], current: Any) -> Any:
    """A value of the field's type that differs from what the server answered (None: cannot make one)."""
    if "enum" in schema:
        others = [value for value in schema["enum"] if value != current and value is not None]
        return others[-1] if others else None  # last: often the privileged one ("admin")
    declared = schema.get("type")
    kind = next((k for k in declared if k != "null"), None) if isinstance(declared, list) else declared
    if kind == "boolean":
        return not current if isinstance(current, bool) else True
    if kind == "integer":
        return PROBE_INTEGER
    if kind == "number":
        return float(PROBE_INTEGER)
    if kind == "string" and "format" not in schema and "pattern" not in schema:
        return PROBE_STRING
    return None


def credential_locations(raw_schema: dict[str, Any]) -> set[tuple[str, str]]:
    """(place, name) of every apiKey credential the schema declares, e.g. ("header", "X-API-Key")."""
    schemes = (raw_schema.get("components") or {}).get("securitySchemes") or \
        raw_schema.get("securityDefinitions") or {}
    found = set()
    for scheme in schemes.values():
        if isinstance(scheme, dict) and scheme.get("type") == "apiKey" and scheme.get("name"):
            found.add((scheme.get("in", "header"), scheme["name"]))
    return found
