"""The default load user's plan: concrete requests per safe operation of the OpenAPI schema.

Kept deliberately simple (docs/load.md, "The default user"):

- Operations: every GET and HEAD operation, nothing that changes state.
- Path parameters name resources that exist where any are known
  (existing_ids.py: the schema's examples, else ids from the collection's list
  answer, e.g. `GET /items` for `/items/{item_id}`): up to 5 URLs per
  operation, one per known id. A parameter with no known value, and required
  query and header parameters, get a value made up here (optional ones are
  left out): the first of the parameter's `example`, its first `examples`
  entry, its schema's `example`, first `examples` entry, `default`, `const`,
  first `enum` value, and else a value made from the type: integers and
  numbers the smallest allowed value of at least 1, strings "1" (padded to
  `minLength`; `uuid`, `date`, `date-time` and `email` formats get a fixed
  valid value), booleans true, arrays one such item. Such a URL is marked
  `invented` (the gate tries it once before the run and leaves it out when it
  answers 404: a 404 on an id the gate made up is not the service's failure).
- An operation whose required parameter cannot be made (an object, a string
  with a `pattern` and no example, a required request body) is left out with
  a warning: give it an example in the schema, or write a locustfile.
- A server URL's path (`servers[0].url`, or Swagger 2's `basePath`) prefixes
  every path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pytest_backend_gates.service.existing_ids import Found, path_parameters, resolve

SAFE_METHODS = ("get", "head")
_UNSET = object()
_FORMAT_VALUES = {
    "uuid": "00000000-0000-4000-8000-000000000001",
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "email": "user@example.com",
}


class Unsupported(Exception):
    """No value can be made for a required parameter."""


@dataclass
class Plan:
    # {"method", "path", "urls": [...], "invented": [path parameters made up, not known to exist],
    #  "examples": bool (some values are the schema's examples), "sources": "item_id from the list answer of GET /items"}
    operations: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "GET /x: why"
    unsafe: int = 0  # operations not called because they may change state

    def to_json(self, headers: dict[str, str]) -> str:
        return json.dumps({"version": 1, "operations": self.operations, "headers": headers})


def parse_schema_text(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"the schema at {where} is neither JSON nor YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise ValueError(f"the schema at {where} is not an OpenAPI document (no `paths`)")
    return data


def build_plan(schema: dict[str, Any], known: Callable[[str], Found] | None = None, prefix: str | None = None,
               excluded: Callable[[str, str], bool] | None = None) -> Plan:
    """The plan for `schema`; `known(path)` gives existing path parameter values (existing_ids.py),
    `prefix` the path every URL starts with (default: the schema's base path), `excluded(method,
    path)` the operations kept away from every gate (`exclude_operations`)."""
    plan = Plan()
    prefix = base_path(schema) if prefix is None else prefix
    for path, item in schema["paths"].items():
        item = _resolve(schema, item)
        if not isinstance(item, dict):
            continue
        for method in item:
            if method.lower() not in (*SAFE_METHODS, "post", "put", "patch", "delete", "options", "trace"):
                continue
            if excluded is not None and excluded(method, path):
                continue
            if method.lower() not in SAFE_METHODS:
                plan.unsafe += 1
                continue
            found = known(path) if known is not None and path_parameters(path) else Found()
            try:
                plan.operations.append(plan_entry(schema, prefix, path, method, found))
            except Unsupported as exc:
                plan.skipped.append(f"{method.upper()} {path}: {exc}")
    return plan


def plan_entry(schema: dict[str, Any], prefix: str, path: str, method: str, found: Found) -> dict[str, Any]:
    """One operation of the plan: its URLs (one per assignment of existing path values, else one
    with made-up values), which path parameters were made up, and where the others came from."""
    item = _resolve(schema, schema["paths"][path])
    operation = _resolve(schema, item[method])
    shared = item.get("parameters") or []
    urls = [_make_url(schema, prefix, path, shared, operation, assignment) for assignment in found.assignments or [{}]]
    return {"method": method.upper(), "path": path, "urls": list(dict.fromkeys(urls)),
            "invented": [name for name in path_parameters(path) if name not in found.sources],
            "examples": found.from_examples, "sources": found.describe()}


def base_path(schema: dict[str, Any]) -> str:
    """The path the schema's operations are served under: servers[0].url's (OpenAPI 3) or basePath (Swagger 2)."""
    servers = schema.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        path = urlsplit(str(servers[0].get("url", ""))).path
    else:
        path = str(schema.get("basePath", ""))
    return path.rstrip("/")


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    resolved = resolve(schema, node)
    if resolved is None and isinstance(node, dict) and isinstance(node.get("$ref"), str):
        raise Unsupported(f"reference {node['$ref']!r} cannot be resolved (only local '#/...' ones are followed)")
    return resolved


def _make_url(schema: dict[str, Any], prefix: str, path: str, shared: list[Any], operation: dict[str, Any],
              known: dict[str, Any]) -> str:
    body = _resolve(schema, operation.get("requestBody"))
    if isinstance(body, dict) and body.get("required"):
        raise Unsupported("it requires a request body")
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        parameter = _resolve(schema, raw)
        if isinstance(parameter, dict) and "name" in parameter:
            parameters[(parameter.get("in", ""), parameter["name"])] = parameter  # operation-level wins
    url_path = path
    query: list[tuple[str, str]] = []
    for (where, name), parameter in parameters.items():
        if where == "body" and parameter.get("required"):  # Swagger 2
            raise Unsupported("it requires a request body")
        if where != "path" and not parameter.get("required"):
            continue
        if where == "path" and name in known:
            url_path = url_path.replace("{" + name + "}", quote(_text(known[name]), safe=""))
            continue
        if where not in ("path", "query"):
            if where == "header":
                continue  # contract `headers` cover authentication; documented
            raise Unsupported(f"required {where} parameter {name!r} is not supported by the default user")
        value = _parameter_value(schema, parameter)
        if where == "path":
            url_path = url_path.replace("{" + name + "}", quote(_text(value), safe=""))
        else:
            values = value if isinstance(value, list) else [value]
            query.extend((name, _text(v)) for v in values)
    return prefix + url_path + (f"?{urlencode(query)}" if query else "")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parameter_value(schema: dict[str, Any], parameter: dict[str, Any]) -> Any:
    name = parameter["name"]
    if "example" in parameter:
        return parameter["example"]
    examples = parameter.get("examples")
    if isinstance(examples, dict) and examples:
        first = _resolve(schema, next(iter(examples.values())))
        if isinstance(first, dict) and "value" in first:
            return first["value"]
    # Swagger 2 keeps the type on the parameter itself
    node = parameter.get("schema", parameter)
    value = _schema_value(schema, node, 0)
    if value is _UNSET:
        raise Unsupported(f"no value can be made for required parameter {name!r}; add an `example` to it")
    return value


def _schema_value(schema: dict[str, Any], node: Any, depth: int) -> Any:
    node = _resolve(schema, node)
    if not isinstance(node, dict) or depth > 5:
        return _UNSET
    for key in ("example", "default", "const"):
        if key in node:
            return node[key]
    for key in ("examples", "enum"):
        if isinstance(node.get(key), list) and node[key]:
            return node[key][0]
    for key in ("anyOf", "oneOf", "allOf"):
        for alternative in node.get(key) or []:
            alternative = _resolve(schema, alternative)
            if isinstance(alternative, dict) and alternative.get("type") == "null":
                continue
            value = _schema_value(schema, alternative, depth + 1)
            if value is not _UNSET:
                return value
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("integer", "number"):
        return _number(node, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "string" or (kind is None and ("format" in node or "minLength" in node)):
        if node.get("format") in _FORMAT_VALUES:
            return _FORMAT_VALUES[node["format"]]
        if "pattern" in node:
            return _UNSET
        return "1" * max(1, int(node.get("minLength", 1)))
    if kind == "array":
        item = _schema_value(schema, node.get("items", {}), depth + 1)
        return _UNSET if item is _UNSET else [item] * max(1, int(node.get("minItems", 1)))
    return _UNSET


def _number(node: dict[str, Any], integer: bool) -> Any:
    low: float = 1
    if isinstance(node.get("minimum"), (int, float)):
        low = max(node["minimum"], 1) if node["minimum"] <= 1 else node["minimum"]
    exclusive = node.get("exclusiveMinimum")
    if isinstance(exclusive, (int, float)) and not isinstance(exclusive, bool) and low <= exclusive:
        low = exclusive + 1
    elif exclusive is True and low <= node.get("minimum", low - 1):
        low = node["minimum"] + 1
    high = node.get("maximum")
    if isinstance(high, (int, float)) and low > high:
        low = high
    return int(low) if integer else low
