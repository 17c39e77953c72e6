"""Values of path parameters that name resources which exist, for the measuring gates.

A latency budget on ``GET /items/{item_id}``, or a load run calling it, means
nothing when every request names an id the service does not have: what gets
timed is a 404. Generated values (``1``, or whatever hypothesis draws) name
resources that exist only by chance, so both the latency gate
(gates/latency/operations.py) and the load gate's default user (gates/load/) ask this
module first. For each path parameter, in this order:

1. the schema's examples: the parameter's ``example`` / ``examples``, then its
   schema's ``example``, ``examples``, ``const`` or ``enum`` (the author said
   these are values to use);
2. an id taken from the list answer of the collection: for
   ``/items/{item_id}`` that is ``GET /items`` (when the schema has it), and
   for ``/users/{user_id}/posts/{post_id}`` it is ``GET /users/{user_id}/posts``
   with a ``user_id`` found the same way. A list answer is a JSON array of
   objects, or an object holding one (``items``, ``results``, ``data``, ...:
   paginated answers); the id is the record's field named like the parameter
   (``item_id``, ``itemId``), else ``id``/``pk``/``uuid`` when the parameter
   names an id.

Requests are few and bounded: one GET per collection URL (cached), at most
``limit`` values kept per parameter. Only GET is sent, so nothing is changed.
A value from neither source is not made up here: the caller decides what to
send instead, and says that it invented it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

__all__ = ["ExistingIds", "Found", "path_parameters", "resolve", "status_counts", "status_hint"]

LIMIT = 5  # values kept per parameter (and assignments per path)
EXAMPLES = "the schema's examples"
_PARAMETER = re.compile(r"\{([^}/]+)\}")
_LIST_KEYS = ("items", "results", "data", "content", "records", "rows", "objects", "entries", "values", "list")
# 'id', 'item_id', 'itemId', 'pk', 'uuid', 'slug': parameters that name a record by one of its ids
_ID_LIKE = re.compile(r"(?:^|_)(?:[iI][dD]|pk|uuid|key|slug)$|[a-z0-9](?:Id|ID|Pk|Uuid|Key|Slug)$")
_GENERIC_ID_KEYS = ("id", "pk", "uuid", "key", "slug")


def resolve(schema: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """`node` with local `$ref`s followed (`#/components/...`); None for a reference that leads nowhere."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and depth < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return None
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, Mapping) else None
        node, depth = target, depth + 1
    return node


def path_parameters(path: str) -> list[str]:
    """'/users/{user_id}/posts/{post_id}' -> ['user_id', 'post_id']."""
    return _PARAMETER.findall(path)


@dataclass
class Found:
    """Existing values for one path template: whole assignments, and where each parameter's came from."""

    assignments: list[dict[str, Any]] = field(default_factory=list)  # each: parameter -> value
    sources: dict[str, str] = field(default_factory=dict)  # parameter -> "the schema's examples", "GET /items"
    missing: list[str] = field(default_factory=list)  # parameters with no known value

    @property
    def from_examples(self) -> bool:
        return EXAMPLES in self.sources.values()

    def describe(self) -> str:
        """'item_id from GET /items', for messages."""
        return ", ".join(f"{name} from {source}" for name, source in self.sources.items())


class ExistingIds:
    """`ExistingIds(raw_schema, client, base_path).find('/items/{item_id}')`.

    `client` is httpx-style (`client.get(url)` -> a response with `status_code` and `json()`),
    already bound to the target and sending the configured headers; `base_path` is the
    schema's served prefix ('/api' for `servers: [{url: /api}]`), put before every path.
    """

    def __init__(self, schema: Mapping[str, Any], client: Any, base_path: str = "", limit: int = LIMIT) -> None:
        self.schema = schema
        self.client = client
        self.base_path = base_path.rstrip("/")
        self.limit = limit
        self.requests = 0
        self._answers: dict[str, list[Mapping[str, Any]] | None] = {}
        self._looking_up: set[str] = set()  # field names being looked up (a list nested in itself)
        paths = schema.get("paths")
        self._paths: Mapping[str, Any] = paths if isinstance(paths, Mapping) else {}

    def find(self, path: str, use_examples: bool = True) -> Found:
        """Assignments of existing values to the path's parameters, left to right (a nested
        collection is listed once per value of its parent, up to `limit` assignments in all).
        `use_examples=False`: list answers only (the examples were tried and answered 404)."""
        found = Found()
        assignments: list[dict[str, Any]] = [{}]
        for name in path_parameters(path):
            examples = self.examples(path, name) if use_examples else []
            grown: list[dict[str, Any]] = []
            for partial in assignments:
                values, source = (examples, EXAMPLES) if examples else self._listed(path, name, partial)
                if not values and _ID_LIKE.search(name) and not self._parent_lists(path, name):
                    # no list at the parent (/items/{item_id}/tags/{tag_id}): the resource's own list
                    values, source = self.for_field(name), f"the list of {name.split('_')[0]}s"
                if not values:
                    grown.append(partial)
                    continue
                found.sources.setdefault(name, source)
                grown.extend({**partial, name: value} for value in values[:self.limit])
            assignments = grown[:self.limit]
            if name not in found.sources:
                found.missing.append(name)
        found.assignments = [a for a in assignments if a]
        return found

    # -- the schema's examples -------------------------------------------------
    def examples(self, path: str, name: str) -> list[Any]:
        """The values the schema gives for path parameter `name` of `path` (any operation there)."""
        item = resolve(self.schema, self._paths.get(path))
        if not isinstance(item, Mapping):
            return []
        raw = list(item.get("parameters") or [])
        for method, operation in item.items():
            operation = resolve(self.schema, operation)
            if method != "parameters" and isinstance(operation, Mapping):
                raw.extend(operation.get("parameters") or [])
        values: list[Any] = []
        for entry in raw:
            parameter = resolve(self.schema, entry)
            if not isinstance(parameter, Mapping) or parameter.get("in") != "path" or parameter.get("name") != name:
                continue
            values.extend(v for v in _parameter_examples(self.schema, parameter) if v not in values)
        return values

    # -- references in bodies --------------------------------------------------------
    def for_field(self, name: str) -> list[Any]:
        """Existing ids for a body field that names another resource: 'author', 'author_id',
        'authorId', 'store_id' -> the ids of the list answer of /authors (/stores, /categories),
        whatever the base path. Empty when no such collection is listed (or the field is no reference)."""
        stem = re.sub(r"(?:_id|Id|_pk|_uuid)$", "", name)
        if not stem or "{" in stem or name in self._looking_up:
            return []
        plural = stem[:-1] + "ies" if stem.endswith("y") else stem + ("es" if stem.endswith("s") else "s")
        self._looking_up.add(name)
        try:
            # /tags first, then a nested list such as /stores/{store_id}/tags (its parents found too)
            for template in sorted(self._paths, key=lambda t: t.count("{")):
                last = template.rstrip("/").rsplit("/", 1)[-1]
                if last not in (plural, stem) or not self._has_get(template):
                    continue
                parents = self.find(template).assignments if "{" in template else [{}]
                values: list[Any] = []
                for parent in parents[:self.limit]:
                    if any(p not in parent for p in path_parameters(template)):
                        continue
                    records = self._records(self.base_path + _fill(template, parent)) or []
                    key = _id_key("id", records) if records else None
                    values.extend(r.get(key) for r in records if key is not None)
                values = [v for v in dict.fromkeys(values) if isinstance(v, (str, int)) and not isinstance(v, bool)]
                if values:
                    return values[:self.limit]
            return []
        finally:
            self._looking_up.discard(name)

    # -- list answers -------------------------------------------------------------
    def _listed(self, path: str, name: str, partial: Mapping[str, Any]) -> tuple[list[Any], str]:
        collection = path[:path.index("{" + name + "}")].rstrip("/")
        if not collection or any(p not in partial for p in path_parameters(collection)):
            return [], ""
        template = next((c for c in (collection, collection + "/") if self._has_get(c)), None)
        if template is None:
            return [], ""
        url = self.base_path + _fill(template, partial)
        records = self._records(url)
        if not records:
            return [], ""
        key = _id_key(name, records)
        if key is None:
            return [], ""
        values: list[Any] = []
        for record in records:
            value = record.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and value not in values:
                values.append(value)
            if len(values) >= self.limit:
                break
        return values, f"the list answer of GET {template}"

    def _parent_lists(self, path: str, name: str) -> bool:
        """The path's own collection (/users/{userId}/posts for post_id) has a GET."""
        collection = path[:path.index("{" + name + "}")].rstrip("/")
        return bool(collection) and any(self._has_get(c) for c in (collection, collection + "/"))

    def _has_get(self, template: str) -> bool:
        item = resolve(self.schema, self._paths.get(template))
        if not isinstance(item, Mapping) or not isinstance(resolve(self.schema, item.get("get")), Mapping):
            return False
        operation = resolve(self.schema, item["get"])
        for entry in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
            parameter = resolve(self.schema, entry)
            # a list that needs a query value we would have to invent is not worth guessing at
            if isinstance(parameter, Mapping) and parameter.get("in") == "query" and parameter.get("required"):
                return False
        return True

    def _records(self, url: str) -> list[Mapping[str, Any]] | None:
        if url in self._answers:
            return self._answers[url]
        self.requests += 1
        records: list[Mapping[str, Any]] | None = None
        try:
            response = self.client.get(url)
            if 200 <= response.status_code < 300:
                records = _list_in(response.json())
        except Exception:  # noqa: BLE001 - not JSON, or the target failed: no ids from here, the caller says so
            records = None
        self._answers[url] = records
        return records


def _parameter_examples(schema: Mapping[str, Any], parameter: Mapping[str, Any]) -> list[Any]:
    values: list[Any] = []
    if "example" in parameter:
        values.append(parameter["example"])
    examples = parameter.get("examples")
    if isinstance(examples, Mapping):
        for example in examples.values():
            example = resolve(schema, example)
            if isinstance(example, Mapping) and "value" in example:
                values.append(example["value"])
    node = resolve(schema, parameter.get("schema", parameter))  # Swagger 2 keeps the type on the parameter
    if isinstance(node, Mapping):
        if "example" in node and node is not parameter:
            values.append(node["example"])
        if isinstance(node.get("examples"), list):
            values.extend(node["examples"])
        if "const" in node:
            values.append(node["const"])
        if isinstance(node.get("enum"), list):
            values.extend(node["enum"])
    return [v for v in values if isinstance(v, (str, int, float)) and not isinstance(v, bool)]


def _list_in(data: Any) -> list[Mapping[str, Any]] | None:
    """The records of a list answer: a JSON array of objects, or one inside an object (pagination)."""
    if isinstance(data, list):
        records = [r for r in data if isinstance(r, Mapping)]
        return records or None
    if isinstance(data, Mapping):
        for key in (*_LIST_KEYS, *data.keys()):
            value = data.get(key)
            if isinstance(value, list) and any(isinstance(r, Mapping) for r in value):
                return [r for r in value if isinstance(r, Mapping)]
    return None


def _id_key(name: str, records: list[Mapping[str, Any]]) -> str | None:
    """The field of the records that holds values for path parameter `name`."""
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    candidates = [name, camel, snake]
    if _ID_LIKE.search(name) or name.lower() in _GENERIC_ID_KEYS:
        candidates.extend(_GENERIC_ID_KEYS)
    first = records[0]
    return next((key for key in candidates if key in first), None)


def _fill(template: str, values: Mapping[str, Any]) -> str:
    return _PARAMETER.sub(lambda m: quote(str(values[m.group(1)]), safe=""), template)


def status_counts(statuses: Mapping[int, int]) -> str:
    """'404 x20, 200 x3': the most frequent first."""
    return ", ".join(f"{code} x{n}" for code, n in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0])))


def status_hint(statuses: Mapping[int, int], label: str, found: Found | None = None) -> str:
    """What to do about the non-2xx answers of `label`: the commonest kind decides.

    Answers of the run itself (credentials missing or revoked, ids that do not exist)
    are told apart from the service failing, so a reader sees at once who is at fault."""
    failing = {code: n for code, n in statuses.items() if not 200 <= code < 300}
    if not failing:
        return ""
    code = max(failing, key=lambda c: (failing[c], -c))
    path = label.partition(" ")[2]
    if code == 401:
        return ("401 means the credentials are missing, wrong or were revoked: set them in "
                "[tool.backend-gates.contract] headers (e.g. Authorization = \"Bearer ${API_TOKEN}\") or an identity "
                "that logs in ([tool.backend-gates.identities.NAME], docs/auth.md), and keep operations that "
                "destroy them out of the run")
    if code == 403:
        return ("403 means the credentials may not call it (another role's operation?) or were revoked: give "
                "the gates credentials that may (an identity in [tool.backend-gates.identities.NAME], or "
                "[tool.backend-gates.contract] headers)")
    if code == 404:
        if not path_parameters(path):
            return "404: the operation is not served at this path (is the schema's base path, servers[0].url, right?)"
        known = found.describe() if found is not None and found.sources else ""
        missing = ", ".join(found.missing) if found is not None and found.missing else ""
        if known and not missing:
            return (f"404 on ids that should exist ({known}): were they deleted, or do they belong to "
                    "another user?")
        names = missing or ", ".join(path_parameters(path))
        first = (found.missing if found is not None and found.missing else path_parameters(path))[0]
        collection = path[:path.index("{" + first + "}")].rstrip("/") or "/"
        return (f"404: no existing value was known for {names}, so the requests named resources that do not "
                f"exist; give the path parameter an `example` of an id that exists, or have GET {collection} "
                "list some (it was asked, when the schema has it)")
    if code in (400, 422):
        return f"{code}: the service refused the requests as invalid; give the operation examples in the schema"
    if code >= 500:
        return f"{code}: the operation fails with server errors (the contract gate names the cause)"
    return f"{code}: not a success; check the operation's parameters and credentials"
