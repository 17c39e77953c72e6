"""Where each app's OpenAPI document is: served by the framework, or a file in the repository.

FastAPI serves it at `openapi_url` (default /openapi.json; None turns it off), APIFlask at
`spec_path`, Litestar under /schema, flask-smorest at OPENAPI_URL_PREFIX + OPENAPI_JSON_PATH
(no prefix: not served), flask-restx at /swagger.json, flasgger at /apispec_1.json,
Connexion at the API's base path + /openapi.json (or /swagger.json for Swagger 2.0). A
framework that serves none (Flask, Starlette, Falcon, Quart) is tested against a document
found in the repository.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from pytest_backend_gates.scaffold.apps import AppCandidate
from pytest_backend_gates.scaffold.project import Module, Project
from pytest_backend_gates.scaffold.resolve import Resolver, is_none, keyword, own_nodes

# Flask extensions that serve a schema: (package, name) -> (label, default path)
FLASK_EXTENSIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("flask_smorest", "Api"): ("flask-smorest", ""),  # its path comes from the app's config
    ("flask_restx", "Api"): ("flask-restx", "/swagger.json"),
    ("flask_restplus", "Api"): ("flask-restplus", "/swagger.json"),
    ("flasgger", "Swagger"): ("flasgger", "/apispec_1.json"),
}


def url_path(*parts: str) -> str:
    """'/' joined parts without doubled slashes: ('/', 'openapi.json') -> '/openapi.json'."""
    joined = "/".join(part.strip("/") for part in parts if part.strip("/"))
    return "/" + joined


class SchemaFinder:
    def __init__(self, project: Project, resolver: Resolver) -> None:
        self.project = project
        self.resolver = resolver
        self.calls: list[tuple[Module, ast.Call, str]] = []  # every call in non-test code, qualified
        self._literals: set[str] | None = None
        for module in project.modules.values():
            if project.is_test_file(module.path):
                continue
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call):
                    qualified = resolver.qualified(node.func, module)
                    if qualified:
                        self.calls.append((module, node, qualified))

    def static_spec(self, app: AppCandidate | None = None) -> Path | None:
        """The repository's OpenAPI document for `app`: one the source names (a string holding its
        file name), one whose name shares the app module's first word (todo_openapi.yaml for
        todo_flask.py), openapi.* before swagger.*, outside test folders, shallow."""
        stem = app.module.path.stem.split("_")[0].lower() if app is not None else ""

        def order(path: Path) -> tuple[bool, bool, bool, int, int, str]:
            named = 0 if path.stem.lower().endswith("openapi") else 1 if "swagger" in path.stem.lower() else 2
            return (self.project.is_test_file(path), path.name not in self.literals,
                    not (stem and path.stem.lower().startswith(stem)), named, len(path.parts), path.as_posix())
        return min(self.project.spec_files, key=order, default=None)

    @property
    def literals(self) -> set[str]:
        """The file names the project's source mentions (in any string)."""
        if self._literals is None:
            names = {path.name for path in self.project.spec_files}
            self._literals = {name for module in self.project.modules.values() for node in ast.walk(module.tree)
                              if isinstance(node, ast.Constant) and isinstance(node.value, str)
                              for name in names if name in node.value}
        return self._literals

    def find(self, app: AppCandidate) -> None:
        """Set app.schema (None: not found) and say why in app.schema_why / app.notes."""
        served = getattr(self, f"_{app.framework.lower()}", None)
        if served is not None:
            served(app)
        if app.schema is None and app.framework != "Django":
            spec = self.static_spec(app)
            if spec is not None:
                app.schema, app.document = spec.as_posix(), spec
                app.schema_why = (f"{spec.as_posix()}, the OpenAPI document in the repository"
                                  + (f" ({app.schema_why})" if app.schema_why else ""))

    # ---------------------------------------------------------------- frameworks

    def _fastapi(self, app: AppCandidate) -> None:
        given = keyword(app.construct, "openapi_url")
        root_path = self.resolver.string(keyword(app.construct, "root_path"), app.construct_module)
        if root_path:
            app.notes.append(f"root_path={root_path!r}: in-process requests reach the routes without it, and "
                             "the schema's servers entry carries it, so the schema path stays as it is")
        if given is None:
            app.schema, app.schema_why = "/openapi.json", "FastAPI's default openapi_url"
        elif is_none(given):
            app.schema_why = "openapi_url=None: the app serves no schema"
        else:
            value = self.resolver.string(given, app.construct_module)
            if value is None:
                app.schema_why = f"openapi_url={ast.unparse(given)} could not be read without running the app"
            else:
                app.schema, app.schema_why = value, f"openapi_url={ast.unparse(given)}"

    def _starlette(self, app: AppCandidate) -> None:
        app.schema_why = "Starlette serves no schema by itself"

    def _apiflask(self, app: AppCandidate) -> None:
        given = keyword(app.construct, "spec_path")
        value = "/openapi.json" if given is None else self.resolver.string(given, app.construct_module)
        if value:
            app.schema, app.schema_why = value, "APIFlask's spec_path" + (" (default)" if given is None else "")

    def _litestar(self, app: AppCandidate) -> None:
        path = "/schema"
        config = keyword(app.construct, "openapi_config")
        if isinstance(config, ast.Call):
            given = keyword(config, "path")
            path = (self.resolver.string(given, app.construct_module) or path) if given is not None else path
        app.schema, app.schema_why = url_path(path, "openapi.json"), "Litestar's OpenAPI controller"

    def _flask(self, app: AppCandidate) -> None:
        for module, call, qualified in self.calls:
            parts = qualified.split(".")
            extension = FLASK_EXTENSIONS.get((parts[0], parts[-1]))
            if extension is None:
                continue
            label, default = extension
            where = f"{label} ({module.path.as_posix()} line {call.lineno})"
            if label == "flask-smorest":
                self._smorest(app, where)
            else:
                prefix = self.resolver.string(keyword(call, "prefix"), module) or ""
                app.schema, app.schema_why = url_path(prefix, default), f"served by {where}"
            return
        app.schema_why = "Flask serves no schema by itself"

    def _smorest(self, app: AppCandidate, where: str) -> None:
        prefix = self.config_value("OPENAPI_URL_PREFIX")
        json_path = self.config_value("OPENAPI_JSON_PATH")
        if prefix is None:
            app.schema_why = (f"{where} serves the schema only with OPENAPI_URL_PREFIX set (e.g. "
                              "app.config['OPENAPI_URL_PREFIX'] = '/'), and none was found")
            return
        path = url_path(prefix[0], json_path[0] if json_path else "openapi.json")
        app.schema = path
        app.schema_why = (f"served by {where}: OPENAPI_URL_PREFIX {prefix[0]!r} ({prefix[1]})"
                          + (f" + OPENAPI_JSON_PATH {json_path[0]!r}" if json_path else " + the default openapi.json"))

    def _connexion(self, app: AppCandidate) -> None:
        for call in self._calls_on(app, "add_api"):
            spec_names = [name for name in self._file_names(call.args[0] if call.args else None, app.construct_module)]
            spec = self._spec_file(spec_names, app.construct_module)
            base_path = self.resolver.string(keyword(call, "base_path"), app.construct_module)
            document = load_document(self.project.root / spec) if spec else None
            swagger2 = isinstance(document, dict) and "swagger" in document
            if base_path is None and spec is not None:
                base_path = base_path_of(document, self.project.root / spec)
            if base_path is None:
                app.schema_why = ("Connexion serves the document of add_api under the API's base path, which "
                                  "could not be read" + (f" ({spec.as_posix()})" if spec else ""))
                if spec is not None:
                    app.schema, app.schema_why = spec.as_posix(), f"add_api's document; {app.schema_why}"
                    app.document = spec
                return
            app.document = spec
            app.schema = url_path(base_path, "swagger.json" if swagger2 else "openapi.json")
            shown = spec.as_posix() if spec else " or ".join(spec_names) or "its document"
            app.schema_why = (f"Connexion serves add_api's {shown} under the base path "
                              f"{base_path or '/'!r}")
            return
        app.schema_why = "no add_api(...) call was found on it"

    # ---------------------------------------------------------------- helpers

    def _calls_on(self, app: AppCandidate, method: str) -> Iterator[ast.Call]:
        if app.variable is None:
            return
        for node in own_nodes(app.scope):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == app.variable):
                yield node

    def _file_names(self, node: ast.expr | None, module: Module, depth: int = 0) -> Iterator[str]:
        """File names a spec argument holds: 'openapi.yaml', SPEC.name with SPEC = here / 'api.yaml'."""
        if node is None or depth > 4:
            return
        text = self.resolver.string(node, module)
        if text is not None:
            yield posixpath.basename(text)
            return
        for child in ast.walk(node):
            if isinstance(child, ast.Constant) and isinstance(child.value, str) \
                    and child.value.endswith((".yaml", ".yml", ".json")):
                yield posixpath.basename(child.value)
            elif isinstance(child, ast.Name):
                bound = self.resolver.value_of(child.id, module)
                if bound is not None:
                    yield from self._file_names(bound[1], bound[0], depth + 1)

    def _spec_file(self, names: list[str], module: Module) -> Path | None:
        """The file with one of `names`, nearest to the module that calls add_api."""
        here = module.path.parent
        matches = [p for p in self.project.spec_files if p.name in names]
        return min(matches, key=lambda p: (p.parent != here, len(p.parts), p.as_posix()), default=None)

    def config_value(self, key: str) -> tuple[str, str] | None:
        """A Flask config value set in the source, and where: `"KEY": "v"` in a dict, `config["KEY"] = "v"`,
        `KEY = "v"` in a config class or module, or `KEY="v"` in a call (config.update(KEY=...))."""
        for module in self.project.modules.values():
            if self.project.is_test_file(module.path):
                continue
            for node in ast.walk(module.tree):
                value: ast.expr | None = None
                if isinstance(node, ast.Dict):
                    value = next((v for k, v in zip(node.keys, node.values)
                                  if isinstance(k, ast.Constant) and k.value == key), None)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
                            and target.slice.value == key) or (isinstance(target, ast.Name) and target.id == key):
                        value = node.value
                elif isinstance(node, ast.Call):
                    value = keyword(node, key)
                if value is None:
                    continue
                text = self.resolver.string(value, module)
                if text is not None:
                    return text, f"{module.path.as_posix()} line {value.lineno}"
        return None


def load_document(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # a Jinja2 template (Connexion renders specs) may not parse: read it by lines


def base_path_of(document: object, path: Path) -> str | None:
    """The API's base path: servers[0].url's path (OpenAPI 3) or basePath (Swagger 2.0)."""
    if isinstance(document, dict):
        if isinstance(document.get("basePath"), str):
            return str(document["basePath"])
        servers = document.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            url = servers[0].get("url")
            return urlsplit(url).path.rstrip("/") if isinstance(url, str) and "{" not in url else None
        return "" if "openapi" in document or "swagger" in document else None
    try:  # not YAML as it stands (a template): the usual spelling of the two keys
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r"^basePath:\s*['\"]?([^'\"\s]+)", text, re.MULTILINE) or \
        re.search(r"^servers:\s*\n\s*-\s*url:\s*['\"]?([^'\"\s{]+)", text, re.MULTILINE)
    return urlsplit(match.group(1)).path.rstrip("/") if match else None
