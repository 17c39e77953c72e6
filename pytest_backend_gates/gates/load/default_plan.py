"""The load gate's default user, planned for this run (when `[tool.backend-gates.load]` has no
locustfile): the contract's schema read (its file, or fetched from the target), the plan of
GET/HEAD URLs built (plan.py), every URL tried once before the run and those that would only
measure the run's own mistakes left out (said in warnings), the plan written for
default_user.py.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_backend_gates.gates.load.plan import (
    Unsupported,
    base_path,
    build_plan,
    parse_schema_text,
    plan_entry,
)
from pytest_backend_gates.service.existing_ids import ExistingIds
from pytest_backend_gates.service.openapi import operation_matches
from pytest_backend_gates.service.target import (
    TargetError,
    check_loopback,
    schema_location,
)
from pytest_backend_gates.settings import ContractSettings

DEFAULT_USER = Path(__file__).with_name("default_user.py")
PLAN_VARIABLE = "BACKEND_GATES_LOAD_PLAN"  # as in default_user.py


def prepare_default_user(contract: ContractSettings, base_url: str, folder: Path, environment: dict[str, str], *,
                         rootpath: Path, notes: list[str], left_out: dict[str, int],
                         headers: dict[str, str]) -> str:
    """The default user's locustfile, its plan written to `folder` and named in `environment`;
    `headers`: what every request sends (the default identity's, or the contract's)."""
    import httpx  # lazy, as everywhere in the package: a run with a locustfile never needs it

    schema = read_schema(contract, base_url, rootpath, parse_schema_text, headers)
    # The schema's base path ('/api'), less what base_url already ends with: locust and httpx
    # put the host's path before every URL, so 'http://h/api' + '/api/items' would double it.
    prefix = base_path(schema)
    served = urlsplit(base_url).path.rstrip("/")
    if served and (prefix == served or prefix.startswith(served + "/")):
        prefix = prefix[len(served):]
    with httpx.Client(base_url=base_url, headers=headers, timeout=10.0) as client:
        finder = ExistingIds(schema, client, prefix)
        globs = contract.exclude_operations
        plan = build_plan(schema, finder.find, prefix, excluded=lambda method, path: any(
            operation_matches(glob, method, p) for glob in globs for p in (path, base_path(schema) + path)))
        try_plan(plan, schema, prefix, finder, client, notes=notes, left_out=left_out)
    notes.extend(f"default user: left out {why}" for why in plan.skipped)
    if not plan.operations:
        raise TargetError(
            "the default load user found no GET/HEAD operation it can call in the schema "
            f"({contract.schema}; {len(plan.skipped)} left out, {plan.unsafe} not safe): "
            "give the operations examples, or set locustfile")
    plan_file = folder / "plan.json"
    plan_file.touch(mode=0o600)  # it may hold the contract's headers (secrets from ${ENV})
    plan_file.write_text(plan.to_json(headers), encoding="utf-8")
    environment[PLAN_VARIABLE] = str(plan_file)
    return str(DEFAULT_USER)


def try_plan(plan: Any, schema: dict[str, Any], prefix: str, finder: Any, client: Any, *, notes: list[str],
             left_out: dict[str, int]) -> None:
    """Send every URL of the plan once before the run (a few requests per operation), and leave
    out what would only measure the run's own mistakes, each said in a warning:

    - a URL naming ids that answers 404: ids the gate made up (or took from the schema's
      examples) that do not exist here; example ids that all answer 404 give way to ids from
      the collection's list answer, where there is one;
    - a URL answering 401/403: the configured credentials may not call it (another role's
      operation). Unless every URL is refused: then the credentials are wrong altogether, and
      the run goes ahead to say so loudly (no 2xx answer is the gate's error).
    A 404 on a URL without ids, a 5xx or a connection error stays in: the run shows them."""
    tried = [(entry, {url: _status(client, entry["method"], url) for url in entry["urls"]})
             for entry in plan.operations]
    answered = [status for _, statuses in tried for status in statuses.values() if status is not None]
    refused_everywhere = bool(answered) and all(status in (401, 403) for status in answered)
    kept = []
    for entry, statuses in tried:
        label = f"{entry['method']} {entry['path']}"
        has_ids = "{" in entry["path"]
        out = {url: status for url, status in statuses.items()
               if (status == 404 and has_ids) or (status in (401, 403) and not refused_everywhere)}
        urls = [url for url in entry["urls"] if url not in out]
        if not urls and entry["examples"] and set(out.values()) == {404}:
            try:
                retry = plan_entry(schema, prefix, entry["path"], entry["method"].lower(),
                                   finder.find(entry["path"], use_examples=False))
            except Unsupported:
                retry = None
            if retry is not None and not retry["invented"]:
                notes.append(f"default user: {label}: the schema's example ids answered 404 "
                             f"({', '.join(out)}); used {retry['sources']} instead")
                kept.append(retry)
                continue
        left_out.update({f"{entry['method']} {url}": status for url, status in out.items()})
        if urls:
            kept.append({**entry, "urls": urls})
            continue
        shown = ", ".join(f"{url}: {status}" for url, status in out.items())
        if 404 in out.values():
            made_up = ", ".join(entry["invented"]) or "its path parameters"
            plan.skipped.append(
                f"{label}: every URL tried answered 404 ({shown}); no id known to exist was found for {made_up} "
                "(no example in the schema, none in a list answer of its collection), and a 404 on an id the "
                "gate chose is not a load failure: give the parameter an `example` of an id that exists, or "
                "write a locustfile")
        else:
            plan.skipped.append(
                f"{label}: the configured credentials may not call it ({shown}): another role's operation? "
                "Give the gates credentials that may (an identity, or [tool.backend-gates.contract] headers), "
                "or call it from a locustfile")
    plan.operations = kept


def read_schema(contract: ContractSettings, base_url: str, rootpath: Path, parse: Any,
                headers: dict[str, str]) -> dict[str, Any]:
    """The schema the default user is planned from: its file, or fetched from the target."""
    kind, location = schema_location(contract.schema, rootpath)
    if kind == "file":
        return parse(Path(location).read_text(encoding="utf-8"), location)  # type: ignore[no-any-return]
    url = base_url + location if kind == "path" else location
    if kind == "url":
        check_loopback(url, contract.allow_remote)
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) only
            text = response.read().decode("utf-8")
    except Exception as exc:
        raise TargetError(f"schema = {contract.schema!r}: fetching {url} for the default load user failed: "
                          f"{type(exc).__name__}: {exc}") from None
    try:
        return parse(text, url)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise TargetError(str(exc)) from None


def _status(client: Any, method: str, url: str) -> int | None:
    """The status `url` answers now; None when it gives no answer (the run will show why)."""
    try:
        response = client.request(method, url)
    except Exception:  # noqa: BLE001 - a connection error is the run's to report, with its figures
        return None
    return int(response.status_code)
