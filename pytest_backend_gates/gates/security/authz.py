"""The authz probe (SPEC section 8: `bola`, `bfla`), run with two or more identities.

For each create operation (a POST on a collection whose item path `<collection>/{id}` the schema
has), the default identity (A) creates a resource and reads it back (the control: another
identity's refusal means nothing when A cannot read it either). Then each other identity (B)
reads, changes and deletes it through every operation on the item path (GET, PATCH, PUT, then
DELETE; re-created after a DELETE that succeeded). A 2xx is `bola`, unless the operation is in
`shared` (any identity may), B has role = "admin" (admins may), or the operation is in
`admin_only` (then it is judged as `bfla`). An `admin_only` operation answering 2xx to an
identity without role = "admin" (A included) is `bfla`; one on no created resource gets its
smallest valid request. 401, 403 and 404 are refusals; any other answer tells nothing.

Each finding names both identities, the operation and the created resource, with a curl pair
(A's create, B's access); credentials appear as the redactor's placeholders.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from pytest_backend_gates.gates.response_rules import RuleFinding
from pytest_backend_gates.gates.security.probe_types import ProbeReport, ProbeRequest
from pytest_backend_gates.gates.security.sender import ProbeSender
from pytest_backend_gates.service.created import (
    ITEM_METHODS,
    created_identifier,
    item_parameter,
    item_paths,
)
from pytest_backend_gates.service.exchange import Exchange
from pytest_backend_gates.service.openapi import operation_matches

REFUSED = (401, 403, 404)
ACCESS_ORDER = ("GET", "PATCH", "PUT", "DELETE")  # DELETE last: it ends the resource
VERBS = {"GET": "read", "PATCH": "changed", "PUT": "replaced", "DELETE": "deleted"}
ADMIN = "admin"
WITH_BODY = ("POST", "PUT", "PATCH")
KEPT = 3  # examples shown of what told nothing


@dataclass
class Created:
    """A resource an identity created: the request and answer that made it, and its id (or the
    Location path)."""

    operation: str
    by: str
    request: ProbeRequest
    exchange: Exchange
    identifier: str
    alive: bool = True

    def renew(self, other: Created) -> None:
        self.exchange, self.identifier, self.alive = other.exchange, other.identifier, True


class AuthzProbe(ProbeSender):
    def authz(self) -> ProbeReport:
        session = self.context.identities
        names = session.names() if session is not None else ()
        if len(names) < 2:
            defined = ", ".join(repr(name) for name in names) or "none"
            return ProbeReport(idle=f"it needs two or more identities, one to create a resource and another that "
                                    f"must be refused (defined: {defined}); add [tool.backend-gates.identities.NAME] "
                                    "tables to check object- and function-level authorization")
        run = AuthzRun(self, session)
        run.run()
        return run.report


class AuthzRun:
    """One run of the authz probe: what was created, judged and left untold."""

    def __init__(self, prober: ProbeSender, session: Any) -> None:
        self.p = prober
        self.session = session
        self.security = prober.context.security
        self.owner: str = session.default
        self.names: tuple[str, ...] = session.names()
        self.report = ProbeReport(idle="no create operation (a POST on a collection whose item path the schema has, "
                                       "e.g. POST /notes with GET /notes/{note_id}) and no admin_only operation")
        self.judged = 0  # accesses answered 2xx or refused
        self.untold: Counter[str] = Counter()  # 'PUT /notes/{note_id} as bob: 422' -> how often
        self.create_answers: Counter[int] = Counter()
        self.created_any = False
        self.last_answers: set[int] = set()  # the statuses of the last create's requests
        self.admin_checked: set[str] = set()

    # -- who may do what -----------------------------------------------------------------
    def is_admin(self, name: str) -> bool:
        return self.session.settings(name).role == ADMIN

    def _listed(self, label: str, globs: tuple[str, ...]) -> bool:
        operation = self.p.operations[label]
        return any(operation_matches(glob, operation.method, path)
                   for glob in globs for path in {operation.path, operation.full_path})

    def admin_only(self, label: str) -> bool:
        return self._listed(label, self.security.admin_only)

    def client(self, name: str) -> Any:
        return self.p.client if name == self.owner else self.p.client.as_(name)

    # -- the run --------------------------------------------------------------------------
    def run(self) -> None:
        operations = self.p.operations
        for key in ("admin_only", "shared"):
            for glob in getattr(self.security, key):
                if not any(self._listed(label, (glob,)) for label in operations):
                    self.report.notes.append(f"authz: {key} {glob!r} matches no operation of the schema")
        paths = {operation.path for operation in operations.values()}
        creates: list[tuple[str, list[str]]] = []
        for label, operation in operations.items():
            if operation.method.upper() != "POST":
                continue
            items = [other for path in item_paths(operation.path, paths) for other, o in operations.items()
                     if o.path == path and o.method.upper() in ITEM_METHODS]
            if items:
                creates.append((label, sorted(items, key=lambda i: ACCESS_ORDER.index(i.split(" ")[0]))))
        admin_operations = [label for label in operations if self.admin_only(label)]
        if not creates and not admin_operations:
            return
        for label, items in creates:
            self.probe_create(label, items)
        for label in admin_operations:
            if label not in self.admin_checked:
                self.probe_admin_only(label)
        self.conclude([label for label, _ in creates])

    def probe_create(self, label: str, items: list[str]) -> None:
        created = self.create(label, self.owner)
        if created is None and self.last_answers & {401, 403}:  # creating may be an admin's right
            admin = next((name for name in self.names if name != self.owner and self.is_admin(name)), None)
            created = self.create(label, admin) if admin is not None else None
        if created is None:
            return
        readback = next((item for item in items if item.startswith("GET ")), None)
        if readback is not None:
            request = self.item_request(readback, created)
            answer = None if request is None else self.p.send(request, client=self.client(created.by))
            if answer is None or not 200 <= answer.status < 300:
                got = "could not be sent" if answer is None else f"answered {answer.status}"
                self.report.notes.append(
                    f"authz: {created.by}'s {label} answered {created.exchange.status} with id {created.identifier}, "
                    f"but {created.by}'s own {readback} of it {got}: whether other identities are refused could not "
                    "be told for this resource")
                return
        for name in self.names:
            if name != created.by:
                for item in items:
                    self.access(name, item, created)
        if not self.is_admin(created.by):  # the creator on admin_only item operations
            for item in items:
                if self.admin_only(item):
                    self.access(created.by, item, created)

    def create(self, label: str, by: str, request: ProbeRequest | None = None) -> Created | None:
        candidates = [request] if request is not None else \
            [self.p.minimal_request(label), self.p.minimal_request(label, with_body=True)]
        tried: list[ProbeRequest] = []
        self.last_answers = set()
        for candidate in candidates:
            if candidate is None or candidate in tried:
                continue
            tried.append(candidate)
            answer = self.p.send(candidate, client=self.client(by))
            if answer is None:
                continue
            self.create_answers[answer.status] += 1
            self.last_answers.add(answer.status)
            if self.admin_only(label) and not self.is_admin(by) and label not in self.admin_checked:
                self.admin_checked.add(label)
                self.judge("bfla", by, label, answer, None)
            if not 200 <= answer.status < 300:
                continue
            items = item_paths(self.p.operations[label].path, {o.path for o in self.p.operations.values()})
            identifier = created_identifier(_json(answer), answer.header("location"), items[0] if items else None)
            if identifier is None:
                self.report.notes.append(f"authz: {label} answered {answer.status} without an id (an id-like field "
                                         "or a Location header): its resource could not be reached")
                return None
            self.created_any = True
            return Created(label, by, candidate, answer, identifier)
        return None

    def item_request(self, item: str, created: Created) -> ProbeRequest | None:
        operation = self.p.operations[item]
        method = operation.method.upper()
        request = (self.p.minimal_request(item, with_body=True) if method in WITH_BODY else None) \
            or self.p.minimal_request(item)
        if request is None:
            return None
        if created.identifier.startswith("/"):  # a Location: the path as served
            return replace(request, path_template=created.identifier, path_parameters={})
        parameter = item_parameter(operation.path) or "id"
        return replace(request, path_parameters={**request.path_parameters, **created.request.path_parameters,
                                                 parameter: created.identifier})

    def access(self, name: str, item: str, created: Created) -> None:
        admin_only = self.admin_only(item)
        if self.is_admin(name) or (not admin_only and (name == created.by or self._listed(item, self.security.shared))):
            return  # admins may; the creator may; anyone may reach what is shared
        if not created.alive:
            fresh = self.create(created.operation, created.by, created.request)
            if fresh is None:
                self.report.notes.append(f"authz: {item} as {name} not checked: re-creating the resource "
                                         f"({created.operation} as {created.by}) after a DELETE failed")
                return
            created.renew(fresh)
        request = self.item_request(item, created)
        if request is None:
            self.report.notes.append(f"authz: {item} as {name} not checked: no valid request could be generated")
            return
        answer = self.p.send(request, client=self.client(name))
        if admin_only:
            self.admin_checked.add(item)
        if answer is None:
            return
        self.judge("bfla" if admin_only else "bola", name, item, answer, created)
        if 200 <= answer.status < 300 and item.startswith("DELETE "):
            created.alive = False

    def probe_admin_only(self, label: str) -> None:
        method = self.p.operations[label].method.upper()
        request = (self.p.minimal_request(label, with_body=True) if method in WITH_BODY else None) \
            or self.p.minimal_request(label)
        if request is None:
            self.report.notes.append(f"authz: admin_only {label} not checked: no valid request could be generated")
            return
        for name in self.names:
            if not self.is_admin(name):
                answer = self.p.send(request, client=self.client(name))
                if answer is not None:
                    self.judge("bfla", name, label, answer, None)

    # -- judging --------------------------------------------------------------------------
    def judge(self, rule: str, name: str, label: str, answer: Exchange, created: Created | None) -> None:
        if answer.status in REFUSED:
            self.judged += 1
            return
        if not 200 <= answer.status < 300:
            self.untold[f"{label} as {name}: {answer.status}"] += 1
            return
        self.judged += 1
        method, path = answer.method.upper(), urlsplit(answer.url).path
        if rule == "bola":
            assert created is not None
            message = (f"{name} {VERBS.get(method, 'reached')} a resource {created.by} created: {created.by}'s "
                       f"{created.operation} answered {created.exchange.status} with id {created.identifier}, then "
                       f"{name}'s {method} {path} answered {answer.status}; only {created.by} may read, change or "
                       "delete it (if any identity may read it, list the operation in [tool.backend-gates.security] "
                       "shared)")
        else:
            on = "" if created is None else \
                f" on the resource {created.by} created with {created.operation} (id {created.identifier})"
            message = (f"{name} (without role = \"admin\") was answered {answer.status} by {method} {path}{on}: "
                       "the operation is admin_only, so it must refuse (401, 403 or 404) every identity without "
                       "role = \"admin\"")
        reproduce = answer.reproduce() or ""
        if created is not None and created.exchange is not answer:
            reproduce = f"{created.exchange.reproduce() or ''}\n{reproduce}"
        key = f"{created.by if created is not None else ''}->{name}"
        self.report.findings.append((RuleFinding(rule, label, message, key), reproduce))

    def conclude(self, creates: list[str]) -> None:
        untold = ", ".join(f"{what}" + (f" x{n}" if n > 1 else "") for what, n in list(self.untold.items())[:KEPT])
        if creates and not self.created_any:
            answers = ", ".join(f"{s} x{n}" for s, n in sorted(self.create_answers.items())) or "none answered"
            self.report.tested_nothing = (
                f"no create operation answered 2xx with an id ({', '.join(creates)}; answers: {answers}), so no "
                "resource of one identity could be put within another's reach; check that the default identity may "
                "create (its credentials, the schema's required fields), or leave the operation out with "
                "exclude_operations")
        elif not self.judged:
            admins = all(self.is_admin(name) for name in self.names if name != self.owner)
            why = f"; answers that tell nothing: {untold}" if untold else \
                "; every other identity has role = \"admin\", which may reach any resource" if admins else \
                "; see the warnings"
            self.report.tested_nothing = f"no access by another identity was answered 2xx or refused (401, 403, 404){why}"
        elif untold:
            self.report.notes.append(f"authz: {sum(self.untold.values())} accesses were answered neither 2xx nor "
                                     f"401/403/404, which tells nothing: {untold}")


def _json(exchange: Exchange) -> Any:
    try:
        return json.loads(exchange.body)
    except ValueError:
        return None
