"""What `input_validation.check` feeds a function: where valid and invalid inputs come from.

`accepts` becomes a :class:`Domain`: a strategy of candidate valid inputs, a
strategy of candidate invalid ones derived from what is known about `accepts`,
and, where validity can be decided, an oracle that classifies every candidate.
Generation only has to be likely right: the oracle has the last word, so a
"valid" candidate that breaks a constraint is checked as an invalid input.

- a regular expression (`re.compile(...)`): valid strings fully match it;
- a type (`int`, `Annotated[int, Field(ge=1)]`, `list[str]`, a dataclass...):
  valid values pass pydantic's strict validation of that type (without pydantic:
  `isinstance` for plain classes);
- a pydantic model class: valid inputs are the JSON-like dicts the model accepts;
- any other hypothesis strategy: its values are valid; nothing is known about
  invalid inputs, so derived and hostile ones are "unknown": the function may
  accept them or raise one of `rejects`, but must not crash or hang.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pytest_backend_gates import hostile
from pytest_backend_gates.errors import UsageError

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"
HUGE = 65536  # characters in a "huge" string


class AcceptsError(UsageError, TypeError):
    """`accepts` cannot be turned into inputs; the message says what is allowed."""


class OracleCrash(Exception):
    """The model or type that defines validity raised something other than a validation error."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


@dataclass(frozen=True)
class Domain:
    description: str
    valid: SearchStrategy[Any]
    invalid: SearchStrategy[Any]
    # True: valid, False: invalid; raises OracleCrash. None: validity unknown beyond `valid`.
    oracle: Callable[[Any], bool] | None = None
    oracle_name: str = ""  # "Pagination.model_validate", for messages about the oracle itself
    # Boundary values tried first on every run, as hypothesis explicit examples: a bug at
    # `le=100` must not depend on the draw. (source, value) with source "valid" or "derived".
    edges: tuple[tuple[str, Any], ...] = ()


# -- building blocks -------------------------------------------------------

# Characters that parsers and validators get wrong: whitespace a strip() misses or a
# `$` lets through, digits int() and \d accept, signs and separators, case folding
# that changes length, invisible and direction characters, NUL, quotes, emoji.
ODD_CHARS = (" ", "\n", "\t", "\r", "\x00", "\u00a0", "\u200b", "_", "+", "-", ".", ",", "e", "0", "9", "a", "Z",
             "@", "'", '"', "<", "/", "\\", "%", "\u0663", "\uff11", "\u0130", "\u00e9", "\u00df", "\U0001f600",
             "\u202e", "\ufeff")
ODD_STRINGS = ("", " ", "\n", "0", "-1", "00", "1e3", "0x10", "1_000", "NaN", "inf", "null", "None", "true", "[]",
               "{}", "\u0663", "\uff11\uff12", "\u00a0 ", "a\x00b", "\u202eabc", "x" * HUGE, "9" * 5000)
INTERESTING_INTS = (0, -1, 1, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**30, -(10**30))
INTERESTING_FLOATS = (0.0, -0.0, 0.5, -1.5, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf)


def hostile_strings() -> SearchStrategy[str]:
    return st.sampled_from(hostile.ALL)


WRONG_KINDS: tuple[Any, ...] = (None, True, False, *INTERESTING_INTS, *INTERESTING_FLOATS, b"", b"\x00", [], {},
                                [None], {"": None}, [1, 2], {"a": 1}, [0] * 10_000, ODD_STRINGS[0], *ODD_STRINGS[1:])


def garbage() -> SearchStrategy[Any]:
    """Values of every JSON-ish kind, with the boundaries that break code. Constants on purpose:
    hypothesis gives a branch with much entropy most of the examples, and these are to be
    tried, not explored."""
    return st.sampled_from(WRONG_KINDS)


def _mutate(args: tuple[str, int, str, str]) -> str:
    text, position, how, char = args
    at = position % (len(text) + 1)
    if how == "insert":
        return text[:at] + char + text[at:]
    if how == "replace" and text:
        at = min(at, len(text) - 1)
        return text[:at] + char + text[at + 1:]
    if how == "delete" and text:
        at = min(at, len(text) - 1)
        return text[:at] + text[at + 1:]
    if how == "append":
        return text + char
    if how == "prepend":
        return char + text
    if how == "double":
        return text + text
    if how == "pad":  # the whitespace a strip() hides or `$` lets through
        return (" " + text, text + " ", text + "\n", "\t" + text)[position % 4]
    if how == "lookalike" and text:  # the same text in other scripts' digits / fullwidth forms
        at = min(at, len(text) - 1)
        c = text[at]
        if c.isdigit() and c.isascii():
            other = chr((0x0660 if position % 2 else 0xFF10) + int(c))
        elif "!" <= c <= "~":
            other = chr(ord(c) - 0x21 + 0xFF01)
        else:
            other = c.upper() if c.upper() != c else c.lower()
        return text[:at] + other + text[at + 1:]
    if how == "flood":  # a long run of one of its characters, the rest cut off: what makes a regex backtrack
        return text[:at] + (text[at] if at < len(text) else char) * 4096
    if how == "huge":
        return (text or char) * (HUGE // max(len(text), 1))
    if how == "upper":
        return text.upper() if text.upper() != text else text.lower()
    return text + char


MUTATIONS = ("pad", "lookalike", "insert", "replace", "append", "delete", "prepend", "double", "upper", "flood", "huge")


def string_mutations(valid: SearchStrategy[str]) -> SearchStrategy[str]:
    """Valid strings with one edit: most are invalid for a strict format, some are not."""
    return st.tuples(valid, st.integers(0, 64), st.sampled_from(MUTATIONS), st.sampled_from(ODD_CHARS)).map(_mutate)


# -- from a JSON schema (pydantic types and models) -----------------------


class _Schema:
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


# -- domains -----------------------------------------------------------------


def _is_pydantic_model(accepts: Any) -> bool:
    if not isinstance(accepts, type):
        return False
    pydantic = __import__("sys").modules.get("pydantic")
    return pydantic is not None and issubclass(accepts, pydantic.BaseModel)


def _describe(accepts: Any) -> str:
    if isinstance(accepts, type):
        return accepts.__qualname__
    if typing.get_origin(accepts) is typing.Annotated:
        base, *metadata = typing.get_args(accepts)
        shown = []
        for item in metadata:  # pydantic's Field(ge=1) is a FieldInfo holding Ge(ge=1)
            shown += [repr(m) for m in getattr(item, "metadata", None) or [item]]
        return f"Annotated[{_describe(base)}, {', '.join(shown)}]"
    text = repr(accepts).replace("typing.", "")
    return text if len(text) <= 120 else text[:119] + "…"


def regex_domain(pattern: re.Pattern[str]) -> Domain:
    if not isinstance(pattern.pattern, str):
        raise AcceptsError(f"accepts={pattern!r}: a bytes pattern; expected a str pattern")
    valid = st.from_regex(pattern, fullmatch=True)

    def oracle(value: Any) -> bool:
        return isinstance(value, str) and pattern.fullmatch(value) is not None

    mutated = string_mutations(valid)
    invalid = st.one_of(mutated, mutated, mutated, st.sampled_from(ODD_STRINGS), garbage())
    return Domain(f"strings matching {pattern.pattern!r}", valid, invalid, oracle)


def model_domain(model: type) -> Domain:
    from pydantic import ValidationError

    schema = model.model_json_schema(mode="validation")  # type: ignore[attr-defined]
    derive = _Schema(schema)
    validate = model.model_validate  # type: ignore[attr-defined]

    def oracle(value: Any) -> bool:
        try:
            validate(value)
        except ValidationError:
            return False
        except Exception as exc:
            raise OracleCrash(exc) from exc
        return True

    return Domain(f"{model.__qualname__} (pydantic model)", derive.valid(schema), derive.invalid(schema), oracle,
                  f"{model.__qualname__}.model_validate")


def type_domain(accepts: Any) -> Domain:
    description = _describe(accepts)
    try:
        from_type: SearchStrategy[Any] | None = st.from_type(accepts)
    except Exception:
        from_type = None
    try:
        from pydantic import TypeAdapter, ValidationError
    except ImportError:
        return _plain_type_domain(accepts, description, from_type)
    try:
        adapter = TypeAdapter(accepts)
    except Exception as exc:
        if from_type is None:
            raise AcceptsError(f"accepts={description}: neither hypothesis nor pydantic can build values of it "
                               f"({type(exc).__name__}: {exc})") from None
        return _plain_type_domain(accepts, description, from_type)
    try:
        schema: dict[str, Any] | None = adapter.json_schema(mode="validation")
    except Exception:
        schema = None
    derive = _Schema(schema or {})
    valid_sources = [s for s in (derive.valid(schema) if schema else None, from_type) if s is not None]
    if not valid_sources:
        raise AcceptsError(f"accepts={description}: no way to generate values of it")
    invalid = derive.invalid(schema) if schema else garbage()

    def oracle(value: Any) -> bool:
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError:
            return False
        except Exception as exc:
            raise OracleCrash(exc) from exc
        return True

    return Domain(description, st.one_of(valid_sources), invalid, oracle,
                  f"pydantic's strict validation of {description}", scalar_edges(schema or {}))


def _plain_type_domain(accepts: Any, description: str, from_type: SearchStrategy[Any] | None) -> Domain:
    if from_type is None:
        raise AcceptsError(f"accepts={description}: hypothesis cannot build values of it; pass a strategy")
    oracle: Callable[[Any], bool] | None = None
    if isinstance(accepts, type) and typing.get_origin(accepts) is None:
        def oracle(value: Any) -> bool:
            return isinstance(value, accepts) and not (accepts is int and isinstance(value, bool))
    return Domain(description, from_type, garbage(), oracle, f"isinstance(value, {description})")


def domain_for(accepts: Any) -> Domain:
    if isinstance(accepts, SearchStrategy):
        return Domain(repr(accepts)[:120], accepts, garbage())
    if isinstance(accepts, re.Pattern):
        return regex_domain(accepts)
    if _is_pydantic_model(accepts):
        return model_domain(accepts)
    if isinstance(accepts, type) or typing.get_origin(accepts) is not None:
        return type_domain(accepts)
    raise AcceptsError(
        f"accepts={accepts!r}: expected a hypothesis strategy, a type (e.g. int, Annotated[int, Field(ge=1)]), "
        "a pydantic model class, or a compiled regular expression (re.compile(...))"
    )
