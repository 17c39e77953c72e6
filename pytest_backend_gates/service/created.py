"""What a create operation made, for the gates that read it back or reach it as someone else
(race auto, the security gate's authz probe): which operations create (a POST on a collection
whose item path `<collection>/{id}` the schema has), the operations on that item path, and the
identifier of a created resource in the create's answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

ID_KEYS = ("id", "uuid", "pk", "key")
ITEM_METHODS = ("GET", "PUT", "PATCH", "DELETE")


def item_paths(collection: str, paths: Iterable[str]) -> list[str]:
    """The schema paths that name one item of `collection`: '/notes/{note_id}' for '/notes'."""
    pattern = re.escape(collection.rstrip("/")) + r"/\{[^/{}]+\}"
    return sorted({path for path in paths if re.fullmatch(pattern, path)})


def item_parameter(item_path: str | None) -> str | None:
    """The path parameter naming the item: 'note_id' for '/notes/{note_id}'."""
    match = re.search(r"\{([^/{}]+)\}$", item_path or "")
    return match.group(1) if match else None


def created_identifier(body: Any, location: str | None, item_path: str | None) -> str | None:
    """The id of what a create answered 2xx for: the item path's own parameter in the JSON body
    (a body with both `id` and `slug` is read at /items/{slug}), else an id-like field, else
    the path of the Location header."""
    if isinstance(body, dict):
        param = item_parameter(item_path)
        for key in [*([param] if param else []), *ID_KEYS]:
            value = body.get(key)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return str(value)
    if location:
        return urlsplit(location).path or None
    return None
