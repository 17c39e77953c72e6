"""A Django project, read from its settings module and URLconf without `django.setup()`.

The settings module is the one pytest-django is told about (DJANGO_SETTINGS_MODULE in the pytest
configuration), the one manage.py / wsgi.py set by default, or else a module that defines
both ROOT_URLCONF and INSTALLED_APPS. From it: the WSGI application (WSGI_APPLICATION), the
database (DATABASES), Django REST Framework and its schema library (INSTALLED_APPS), and the
schema view's URL, found by walking `urlpatterns` from ROOT_URLCONF through `include()`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from pytest_backend_gates.scaffold.apps import AppCandidate
from pytest_backend_gates.scaffold.project import Module, Project
from pytest_backend_gates.scaffold.resolve import Resolver, call_name, top_level

# Views that serve the schema document: (last name of the view or factory, label)
SCHEMA_VIEWS = {
    "SpectacularAPIView": "drf-spectacular",
    "SpectacularJSONAPIView": "drf-spectacular",
    "SpectacularYAMLAPIView": "drf-spectacular",
    "without_ui": "drf-yasg",
    "get_schema_view": "Django REST Framework's get_schema_view",
}


@dataclass
class DjangoProject:
    settings: Module
    settings_from: str  # "DJANGO_SETTINGS_MODULE in pyproject.toml", "manage.py", ...
    installed_apps: list[str] = field(default_factory=list)
    local_packages: list[str] = field(default_factory=list)  # project folders to measure
    wsgi_application: str | None = None  # "library_project.wsgi:application"
    database_engine: str | None = None
    database_name: str | None = None  # as written (an expression, not a value)
    database_line: int = 0
    schema: str | None = None
    schema_why: str = ""

    @property
    def drf(self) -> bool:
        return "rest_framework" in self.installed_apps


def find_django(project: Project, resolver: Resolver) -> DjangoProject | None:
    located = _settings_module(project, resolver)
    if located is None:
        return None
    settings, settings_from = located
    scope = resolver.scopes[settings.name]
    django = DjangoProject(settings, settings_from)
    for value in _values(settings, "INSTALLED_APPS"):
        django.installed_apps += [node.value for node in ast.walk(value)
                                  if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    for app in [*django.installed_apps, settings.name]:
        top = app.split(".")[0]
        module = project.modules.get(top)
        if module is not None and module.path.name == "__init__.py" and top not in django.local_packages:
            django.local_packages.append(top)
    wsgi = resolver.string(scope.assigned.get("WSGI_APPLICATION", [None])[-1], settings)
    if wsgi and "." in wsgi and wsgi.rpartition(".")[0] in project.modules:
        django.wsgi_application = wsgi.rpartition(".")[0] + ":" + wsgi.rpartition(".")[2]
    _database(django, settings, resolver)
    urlconf = resolver.string(scope.assigned.get("ROOT_URLCONF", [None])[-1], settings)
    if urlconf in project.modules:
        for route, label, where in _schema_routes(project, resolver, project.modules[urlconf], "", 0):
            django.schema, django.schema_why = route, f"{label} view in {where}"
            break
        else:
            django.schema_why = f"no schema view (drf-spectacular, drf-yasg) in the URLs of {urlconf}"
    return django


def apply_to(django: DjangoProject, apps: list[AppCandidate]) -> None:
    """Give the Django candidates (get_wsgi/asgi_application) the project's schema."""
    for app in apps:
        if app.framework != "Django":
            continue
        app.schema, app.schema_why = django.schema, django.schema_why
        if django.wsgi_application == app.target:
            app.notes.append(f"WSGI_APPLICATION in {django.settings.path.as_posix()}")


def _settings_module(project: Project, resolver: Resolver) -> tuple[Module, str] | None:
    named: list[tuple[str, str]] = []
    if project.pytest.django_settings:
        named.append((project.pytest.django_settings, f"DJANGO_SETTINGS_MODULE in {project.pytest.source}"))
    for module in sorted(project.modules.values(), key=lambda m: (m.path.name != "manage.py", len(m.path.parts))):
        for node in ast.walk(module.tree):
            if (isinstance(node, ast.Call) and call_name(node.func) == "setdefault" and len(node.args) == 2
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == "DJANGO_SETTINGS_MODULE"):
                value = resolver.string(node.args[1], module)
                if value:
                    named.append((value, module.path.as_posix()))
    for name, source in named:
        if name in project.modules:
            return project.modules[name], source
    for module in project.modules.values():
        if {"ROOT_URLCONF", "INSTALLED_APPS"} <= set(resolver.scopes[module.name].assigned):
            return module, "it defines ROOT_URLCONF and INSTALLED_APPS"
    return None


def _values(module: Module, name: str) -> Iterator[ast.expr]:
    """Every value given to `name` at top level: `X = [...]` and `X += [...]`."""
    for statement in top_level(module.tree.body):
        if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                     for t in statement.targets):
            yield statement.value
        elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)) and isinstance(statement.target, ast.Name) \
                and statement.target.id == name and statement.value is not None:
            yield statement.value


def _database(django: DjangoProject, settings: Module, resolver: Resolver) -> None:
    for value in _values(settings, "DATABASES"):
        if not isinstance(value, ast.Dict):
            django.database_name, django.database_line = ast.unparse(value), value.lineno
            continue
        default = next((v for k, v in zip(value.keys, value.values)
                        if isinstance(k, ast.Constant) and k.value == "default"), None)
        if isinstance(default, ast.Call):  # dj_database_url.config(...), env.db(...)
            django.database_name, django.database_line = ast.unparse(default), default.lineno
        elif isinstance(default, ast.Dict):
            for key, item in zip(default.keys, default.values):
                if isinstance(key, ast.Constant) and key.value == "ENGINE":
                    django.database_engine = resolver.string(item, settings)
                elif isinstance(key, ast.Constant) and key.value == "NAME":
                    django.database_name = ast.unparse(item)
            django.database_line = default.lineno


def _schema_routes(project: Project, resolver: Resolver, urls: Module, prefix: str,
                   depth: int) -> Iterator[tuple[str, str, str]]:
    """(URL path, schema library, where) of every schema view reachable from `urls`."""
    if depth > 4:
        return
    for patterns in _values(urls, "urlpatterns"):
        for call in (node for node in ast.walk(patterns) if isinstance(node, ast.Call)):
            if call_name(call.func) not in ("path", "re_path", "url") or len(call.args) < 2:
                continue
            route = _route(resolver.string(call.args[0], urls), regex=call_name(call.func) != "path")
            if route is None:
                continue
            view = call.args[1]
            if isinstance(view, ast.Call) and call_name(view.func) == "include" and view.args:
                target = view.args[0].elts[0] if isinstance(view.args[0], ast.Tuple) else view.args[0]
                included = resolver.string(target, urls)
                if included in project.modules:
                    yield from _schema_routes(project, resolver, project.modules[included], prefix + route, depth + 1)
                continue
            label = _schema_view(view)
            if label is not None:
                yield "/" + prefix + route, label, f"{urls.path.as_posix()} line {call.lineno}"


def _schema_view(view: ast.expr) -> str | None:
    if not isinstance(view, ast.Call):
        return None
    name = call_name(view.func)
    if name == "as_view" and isinstance(view.func, ast.Attribute):
        return SCHEMA_VIEWS.get(call_name(view.func.value))
    if name in ("get_schema_view", "without_ui"):
        return SCHEMA_VIEWS[name]
    return None


def _route(route: str | None, regex: bool) -> str | None:
    """A route as a literal path; a regex route only when it is one ('^api/schema/$')."""
    if route is None or not regex:
        return route
    route = re.sub(r"\(\?P<format>[^)]*\)", ".json", route)  # drf-yasg's swagger(?P<format>\.json|\.yaml)
    route = route.removeprefix("^").removesuffix("$").replace("\\.", ".")
    return None if re.search(r"[\\()\[\]*+?|{}^$]", route) else route
