"""A JSON schema (of a pydantic type or model) turned into strategies of likely valid and
likely invalid instances, and the boundary values of a scalar tried first on every run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pytest_backend_gates.gates.validation.odd_inputs import (
    HUGE,
    garbage,
    hostile_strings,
    string_mutations,
)


class SchemaInputs:
    """JSON schema -> strategies of likely valid and likely invalid instances."""

    MAX_DEPTH = 4

    def __init__(self, root: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = root.get("$defs", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return dict(self.defs.get(ref.rsplit("/", 1)[1], {}))
        return schema

    def valid(self, schema: dict[str, Any], depth: int = 0) -> SearchStrategy[Any]:
        schema = self.resolve(schema)
        if depth > self.MAX_DEPTH:
            return st.nothing()
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.valid(s, depth + 1) for s in schema[key]])
        if "allOf" in schema and schema["allOf"]:
            return self.valid({**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of([self.valid({**schema, "type": k}, depth) for k in kind])
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            low, high = _bounds(schema, integer=True)
            edges = [v for v in (low, high, 0, 1, -1) if (low is None or v >= low) and (high is None or v <= high)]
            return st.one_of(st.integers(min_value=low, max_value=high), st.sampled_from(edges))
        if kind == "number":
            low, high = _bounds(schema, integer=False)
            edges = [v for v in (low, high, 0.0) if v is not None and (low is None or v >= low)
                     and (high is None or v <= high)]
            numbers = st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
            return st.one_of(numbers, st.sampled_from(edges)) if edges else numbers
        if kind == "string":
            return self._string(schema)
        if kind == "array":
            items = self.valid(schema.get("items", {}), depth + 1)
            low = schema.get("minItems", 0)
            return st.lists(items, min_size=low, max_size=min(schema.get("maxItems", low + 4), low + 4))
        if kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries(
                {k: self.valid(s, depth + 1) for k, s in properties.items() if k in required},
                optional={k: self.valid(s, depth + 1) for k, s in properties.items() if k not in required},
            )
        return st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))

    def _string(self, schema: dict[str, Any]) -> SearchStrategy[str]:
        fmt = schema.get("format")
        formats: dict[str, SearchStrategy[str]] = {
            # the edges where date arithmetic overflows, and a leap day
            "date": st.one_of(st.dates().map(lambda d: d.isoformat()),
                              st.sampled_from(("0001-01-01", "9999-12-31", "2024-02-29"))),
            "date-time": st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(
                lambda d: d.isoformat()),
            "time": st.times().map(lambda t: t.isoformat()),
            "uuid": st.uuids().map(str),
            "email": st.emails(),
            "uri": st.sampled_from(("https://example.com/", "http://127.0.0.1:8000/a?b=c")),
        }
        if fmt in formats:
            return formats[fmt]
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if "pattern" in schema:
            try:
                return st.from_regex(schema["pattern"])
            except Exception:  # a pattern Python's re does not read: the oracle still decides
                pass
        return st.text(min_size=low, max_size=high if high is not None else low + 16)

    def invalid(self, schema: dict[str, Any], depth: int = 0) -> SearchStrategy[Any]:
        schema = self.resolve(schema)
        options: list[SearchStrategy[Any]] = [garbage()]
        if depth > self.MAX_DEPTH:
            return garbage()
        kind = schema.get("type")
        if "enum" in schema:
            strings = [v for v in schema["enum"] if isinstance(v, str)]
            options.append(st.sampled_from(strings or ["?"]).map(lambda v: v.upper() if v.upper() != v else v + "x"))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options += [self.invalid(s, depth + 1) for s in schema[key] if self.resolve(s).get("type") != "null"]
        if kind in ("integer", "number"):
            low, high = _bounds(schema, integer=kind == "integer")
            outside: list[Any] = []
            if low is not None:
                outside.append(low - 1 if kind == "integer" else math.nextafter(low, -math.inf))
            if high is not None:
                outside.append(high + 1 if kind == "integer" else math.nextafter(high, math.inf))
            if outside:
                options.append(st.sampled_from(outside))
            options.append(st.sampled_from((0.5, 1.5, math.nan, math.inf, -math.inf, "1", 10**30)))
        if kind == "string":
            valid = self._string(schema)
            options += [string_mutations(valid)] * 2
            low, high = schema.get("minLength"), schema.get("maxLength")
            if low:
                options.append(st.just("x" * (low - 1)))
            if high is not None:
                options.append(st.just("x" * (high + 1)))
            if schema.get("format") == "date":
                options.append(st.sampled_from(("2024-02-30", "2023-13-01", "0000-01-01", "2024-1-1", "20240101")))
            if schema.get("format") == "email":
                options.append(st.sampled_from(("no-at", "a@", "@b.c", "a@@b.c", "a b@c.d", "a@b")))
        if kind == "array":
            item = schema.get("items", {})
            low, high = schema.get("minItems"), schema.get("maxItems")
            if low:
                options.append(st.lists(self.valid(item, depth + 1), max_size=low - 1))
            if high is not None:
                options.append(st.lists(self.valid(item, depth + 1), min_size=high + 1, max_size=high + 2))
            options.append(st.lists(self.invalid(item, depth + 1), min_size=1, max_size=2))
        if kind == "object" or "properties" in schema:
            options += self._object_mutations(schema, depth)
        return st.one_of(options)

    def _object_mutations(self, schema: dict[str, Any], depth: int) -> list[SearchStrategy[Any]]:
        valid = self.valid(schema, depth)
        properties: dict[str, Any] = schema.get("properties", {})
        options: list[SearchStrategy[Any]] = [
            valid.map(lambda d: {**d, "unexpected_field": "x"}),
            st.just({}),
        ]
        required = [k for k in schema.get("required", ()) if k in properties]
        if required:
            options.append(st.tuples(valid, st.sampled_from(required)).map(
                lambda t: {k: v for k, v in t[0].items() if k != t[1]}))
        for key, sub in properties.items():
            replacement = st.one_of(self.invalid(sub, depth + 1), st.none(), hostile_strings())
            options.append(st.tuples(valid, replacement).map(_replacing(key)))
        return options


def scalar_edges(schema: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The inclusive bounds of a number, and the first values past them; the shortest and
    longest allowed strings and the lengths just outside (only for an unconstrained alphabet)."""
    kind = schema.get("type")
    edges: list[tuple[str, Any]] = []
    if kind in ("integer", "number"):
        integer = kind == "integer"
        low, high = _bounds(schema, integer)
        if low is not None:
            edges += [("valid", low), ("derived", low - 1 if integer else math.nextafter(low, -math.inf))]
        if high is not None:
            edges += [("valid", high), ("derived", high + 1 if integer else math.nextafter(high, math.inf))]
    elif kind == "string" and not ({"pattern", "format", "enum", "const"} & schema.keys()):
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        edges.append(("valid", "x" * low))
        if low:
            edges.append(("derived", "x" * (low - 1)))
        if high is not None and high <= HUGE:
            edges += [("valid", "x" * high), ("derived", "x" * (high + 1))]
    return tuple(dict.fromkeys(edges))  # equal bounds (minimum == maximum) tried once


def _replacing(key: str) -> Callable[[tuple[dict[str, Any], Any]], dict[str, Any]]:
    def replace(pair: tuple[dict[str, Any], Any]) -> dict[str, Any]:
        return {**pair[0], key: pair[1]}

    return replace


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[Any, Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + 1 if integer else math.nextafter(schema["exclusiveMinimum"], math.inf)
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - 1 if integer else math.nextafter(schema["exclusiveMaximum"], -math.inf)
    return low, high

