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

The strategies are built in odd_inputs.py (odd values, string mutations, hostile strings)
and schema_inputs.py (from a JSON schema).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.gates.validation.odd_inputs import (
    ODD_STRINGS,
    garbage,
    string_mutations,
)
from pytest_backend_gates.gates.validation.schema_inputs import (
    SchemaInputs,
    scalar_edges,
)

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"


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
    derive = SchemaInputs(schema)
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
    derive = SchemaInputs(schema or {})
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
