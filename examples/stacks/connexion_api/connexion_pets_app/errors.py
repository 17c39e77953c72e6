"""Domain errors and the problem+json answers Connexion sends for them."""

from __future__ import annotations

import re
from http import HTTPStatus
from pathlib import Path

import yaml

import flask
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem

from .config import settings

PROBLEM_TYPES = "https://docs.example.com/pet-clinic/problems"
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class ResourceNotFound(LookupError):
    def __init__(self, resource: str, resource_id: int) -> None:
        super().__init__(f"{resource} {resource_id} does not exist")
        self.resource = resource
        self.resource_id = resource_id


def conflict(detail: str) -> ProblemException:
    return ProblemException(status=409, title="Conflict", detail=detail, type=f"{PROBLEM_TYPES}/conflict")


def bad_body_encoding_handler(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion decodes a JSON body as UTF-8 without catching the error: bytes that are not UTF-8
    would be a 500."""
    return problem(400, HTTPStatus.BAD_REQUEST.phrase, "The request body is not valid UTF-8")


class AllowedMethods:
    """405 answers with an Allow header that lists every method the document gives the path.

    Connexion routes each operation separately, so a 405 names only the methods of the first
    operation whose path matched (`Allow: HEAD, GET` for POST-able /pets); RFC 9110 wants them all.
    """

    def __init__(self, spec_file: Path, base_path: str) -> None:
        paths = yaml.safe_load(spec_file.read_text())["paths"]
        self.table: list[tuple[re.Pattern[str], list[str]]] = []
        for template, item in paths.items():
            pattern = re.compile(re.escape(base_path) + "".join(
                "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template)))
            methods = {method.upper() for method in item if method in _METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            self.table.append((pattern, sorted(methods)))

    def handler(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        allowed = next((methods for pattern, methods in self.table if pattern.fullmatch(request.url.path)), None)
        headers = dict(getattr(exc, "headers", None) or {})
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        return problem(405, HTTPStatus.METHOD_NOT_ALLOWED.phrase, f"{request.method} is not allowed here",
                       headers=headers)


def not_found_handler(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """404 for a missing resource (ResourceNotFound) and for an unknown URL (Flask's NotFound)."""
    detail = str(exc) if isinstance(exc, ResourceNotFound) else "The requested URL was not found on the server."
    if settings.defects and not settings.debug:
        # DEFECT(broken-404): the production branch links the problem type to the API docs with flask.url_for,
        # but Connexion 3 runs error handlers in its ASGI middleware, outside Flask's app context:
        # RuntimeError("Working outside of application context") -> 500 for every missing resource;
        # fixed twin: a static problem type URI, no Flask context needed.
        return problem(404, HTTPStatus.NOT_FOUND.phrase, detail,
                       type=flask.url_for("static", filename="problems/not-found.html", _external=True))
    return problem(404, HTTPStatus.NOT_FOUND.phrase, detail, type=f"{PROBLEM_TYPES}/not-found")
