"""The application objects of the project, found in its source: what `app` can name.

A module-level `app = FastAPI(...)` (or Starlette, Flask, APIFlask, Connexion, Litestar...),
`app = create_app()` where the project's `create_app` builds one, or a factory alone
(`module:create_app()`, which the contract gate calls with no argument). Django projects are
found from their settings module (django_project.py). Every candidate gets its schema
(schemas.py); the best one is proposed, the others are named in comments.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from pytest_backend_gates.scaffold.project import Module, Project
from pytest_backend_gates.scaffold.resolve import (
    Resolver,
    assigned_name,
    own_nodes,
    top_level,
)

# (top-level package, class or function) -> (framework, interface)
CONSTRUCTORS: dict[tuple[str, str], tuple[str, str]] = {
    ("fastapi", "FastAPI"): ("FastAPI", "ASGI"),
    ("starlette", "Starlette"): ("Starlette", "ASGI"),
    ("flask", "Flask"): ("Flask", "WSGI"),
    ("apiflask", "APIFlask"): ("APIFlask", "WSGI"),
    ("quart", "Quart"): ("Quart", "ASGI"),
    ("litestar", "Litestar"): ("Litestar", "ASGI"),
    ("falcon", "App"): ("Falcon", "WSGI"),
    ("connexion", "App"): ("Connexion", "ASGI"),
    ("connexion", "FlaskApp"): ("Connexion", "ASGI"),
    ("connexion", "AsyncApp"): ("Connexion", "ASGI"),
    ("django", "get_wsgi_application"): ("Django", "WSGI"),
    ("django", "get_asgi_application"): ("Django", "ASGI"),
}
# Module names an app usually lives in; a tie between candidates goes to these.
USUAL_MODULES = ("main", "app", "application", "asgi", "wsgi", "api", "server", "web", "service")


@dataclass
class AppCandidate:
    framework: str  # "FastAPI", "Flask", "Connexion", "Django", ...
    interface: str  # "ASGI" or "WSGI"
    target: str  # what `app` is set to: "shop.main:app" or "shop.main:create_app()"
    module: Module
    line: int  # where the object is bound (or the factory defined)
    built_at: str  # "shop/main.py line 97": where the constructor call is
    construct: ast.Call  # the constructor call
    construct_module: Module  # the module holding the constructor call
    scope: ast.AST  # the module or factory body the app variable lives in
    variable: str | None  # the app's name in `scope` (for calls on it: add_api, mount)
    how: str  # "app = FastAPI(...)", "app = create_app()", "factory create_app()"
    schema: str | None = None
    schema_why: str = ""
    notes: list[str] = field(default_factory=list)
    mounted_in: str | None = None  # "app at /v2": another app serves this one under a prefix
    document: Path | None = None  # the OpenAPI file in the repository it serves or is tested against

    @property
    def where(self) -> str:
        return f"{self.module.path.as_posix()} line {self.line}"


def constructor(resolver: Resolver, call: ast.Call, module: Module) -> tuple[str, str] | None:
    qualified = resolver.qualified(call.func, module)
    if qualified is None:
        return None
    parts = qualified.split(".")
    made = CONSTRUCTORS.get((parts[0], parts[-1]))
    if made is not None and parts[0] == "falcon" and "asgi" in parts:
        return made[0], "ASGI"  # falcon.asgi.App
    return made


def _built_in(resolver: Resolver, function: ast.FunctionDef | ast.AsyncFunctionDef,
              module: Module) -> tuple[ast.Call, str | None] | None:
    """The app a factory builds: the constructor call it returns, directly or through a name."""
    local: dict[str, ast.Call] = {}
    for node in own_nodes(function):
        named = assigned_name(node) if isinstance(node, ast.stmt) else None
        if named and isinstance(named[1], ast.Call) and constructor(resolver, named[1], module):
            local[named[0]] = named[1]
    for node in own_nodes(function):
        if isinstance(node, ast.Return) and node.value is not None:
            if isinstance(node.value, ast.Call) and constructor(resolver, node.value, module):
                return node.value, None
            if isinstance(node.value, ast.Name) and node.value.id in local:
                return local[node.value.id], node.value.id
    return None


def _no_arguments_needed(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = function.args
    return (len(args.defaults) == len(args.posonlyargs) + len(args.args)
            and all(default is not None for default in args.kw_defaults))


def find_apps(project: Project, resolver: Resolver) -> list[AppCandidate]:
    """Every app object and app factory outside the test folders, best first."""
    candidates: list[AppCandidate] = []
    factories_used: set[tuple[str, str]] = set()
    for module in project.modules.values():
        if project.is_test_file(module.path) or module.path.name in ("conftest.py", "setup.py", "locustfile.py"):
            continue
        for statement in top_level(module.tree.body):
            named = assigned_name(statement)
            if named is None:
                continue
            name, call = named[0], named[1]
            if not isinstance(call, ast.Call):
                continue
            made = constructor(resolver, call, module)
            if made is not None:
                framework, interface = made
                candidates.append(AppCandidate(
                    framework, interface, f"{module.name}:{name}", module, statement.lineno,
                    f"{module.path.as_posix()} line {call.lineno}", call, module, module.tree, name,
                    f"{name} = {ast.unparse(call.func)}(...)"))
                continue
            factory = resolver.function(call.func, module)
            if factory is None or isinstance(factory[1], ast.AsyncFunctionDef):
                continue
            built = _built_in(resolver, factory[1], factory[0])
            if built is None:
                continue
            factories_used.add((factory[0].name, factory[1].name))
            framework, interface = constructor(resolver, built[0], factory[0]) or ("?", "?")
            candidates.append(AppCandidate(
                framework, interface, f"{module.name}:{name}", module, statement.lineno,
                f"{factory[0].path.as_posix()} line {built[0].lineno}", built[0], factory[0], factory[1],
                built[1], f"{name} = {ast.unparse(call.func)}()"))
    for module in project.modules.values():
        if project.is_test_file(module.path):
            continue
        for function in resolver.scopes[module.name].functions.values():
            if isinstance(function, ast.AsyncFunctionDef) or (module.name, function.name) in factories_used:
                continue
            built = _built_in(resolver, function, module)
            if built is None or not _no_arguments_needed(function):
                continue
            framework, interface = constructor(resolver, built[0], module) or ("?", "?")
            candidates.append(AppCandidate(
                framework, interface, f"{module.name}:{function.name}()", module, function.lineno,
                f"{module.path.as_posix()} line {built[0].lineno}", built[0], module, function, built[1],
                f"factory {function.name}()"))
    _mark_mounts(candidates)
    return candidates


def _mark_mounts(candidates: list[AppCandidate]) -> None:
    """`parent.mount("/v2", child)`: the child is served under the parent, not on its own."""
    by_variable = {(c.module.name, c.variable): c for c in candidates if c.variable and c.scope is c.module.tree}
    for parent in candidates:
        if parent.variable is None:
            continue
        for node in own_nodes(parent.scope):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "mount"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == parent.variable
                    and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[1], ast.Name)):
                child = by_variable.get((parent.module.name, node.args[1].id))
                if child is not None and child is not parent:
                    child.mounted_in = f"{parent.target} at {node.args[0].value!s}"


def rank(candidate: AppCandidate) -> tuple[int, int, str, int]:
    """Best first: served on its own, with a schema, in a usual module, shallow, then by name."""
    stem = candidate.module.name.rpartition(".")[2]
    score = 0 if candidate.mounted_in is None else 8
    score += 0 if candidate.schema is not None else 4
    score += 0 if stem in USUAL_MODULES or candidate.framework == "Django" else 2
    score += 0 if not candidate.target.endswith("()") else 1  # an object over a factory
    # Django's WSGI handler over its ASGI one (startproject writes both): sync views, no thread hop
    score += 1 if candidate.framework == "Django" and candidate.interface == "ASGI" else 0
    examples = any(part in ("examples", "example", "docs", "scripts") for part in candidate.module.path.parts)
    return score + (16 if examples else 0), len(candidate.module.path.parts), candidate.target, candidate.line
