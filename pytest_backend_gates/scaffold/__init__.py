"""`pytest --backend-gates-init`: a commented starting configuration found from the project.

It reads the project's files (never imports or runs them: an app's import can connect to a
database or read secrets), finds the app object, its schema, the test folders, the database
and the installed tools, and returns `[tool.backend-gates]` text that runs as it is. It writes
nothing; the wiring (plugin.py) prints the text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from pytest_backend_gates.config import load_config
from pytest_backend_gates.errors import ConfigError
from pytest_backend_gates.gates import registry
from pytest_backend_gates.scaffold.apps import AppCandidate, find_apps, rank
from pytest_backend_gates.scaffold.database import Database, find_database
from pytest_backend_gates.scaffold.django_project import (
    DjangoProject,
    apply_to,
    find_django,
)
from pytest_backend_gates.scaffold.hints import Hints, document_hints, find_hints
from pytest_backend_gates.scaffold.project import Module, Project, read_project
from pytest_backend_gates.scaffold.render import Findings, render
from pytest_backend_gates.scaffold.resolve import Resolver
from pytest_backend_gates.scaffold.schemas import SchemaFinder

__all__ = ["scaffold_text"]

T = TypeVar("T")


def scaffold_text(root: Path) -> str:
    """The configuration for the project at `root` (pytest's rootdir), as TOML with comments."""
    project = read_project(root)
    resolver = Resolver(project)
    problems: list[str] = []

    def guarded(what: str, find: Callable[[], T], fallback: T) -> T:
        # Source code is the input here, in all its variety: a construct this reading does not
        # expect costs that one finding (named in the output), never the whole configuration.
        try:
            return find()
        except (RecursionError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            problems.append(f"looking for {what} failed on this project's source ({type(exc).__name__}: {exc})")
            return fallback

    apps: list[AppCandidate] = guarded("the app", lambda: find_apps(project, resolver), [])
    django: DjangoProject | None = guarded("a Django project", lambda: find_django(project, resolver), None)
    finder = SchemaFinder(project, resolver)
    for candidate in apps:
        guarded(f"the schema of {candidate.target}", partial(finder.find, candidate), None)
    if django is not None:
        apply_to(django, apps)
    apps.sort(key=rank)
    app = apps[0] if apps else None
    # The app's own code: the modules imported from where it is (not a nested project's, not tools')
    scope: Callable[[Module], bool] = (lambda module: True) if app is None else \
        (lambda module: module.import_root == app.module.import_root)
    if django is not None and not scope(django.settings):
        django = None  # another project of a monorepo: its settings say nothing of this app
    database: Database = guarded(
        "the database", lambda: find_database(project, resolver, scope, django.database_engine if django else None,
                                              app.module.import_root if app else None),
        Database())
    hints: Hints = guarded("authentication", lambda: find_hints(project, resolver, _drf_token(django), scope),
                           Hints())
    document = app.document if app is not None else None
    if document is not None:
        guarded("authentication in the OpenAPI document", partial(document_hints, hints, project.root, document), None)
    source, why = _coverage_source(project, app, django)
    found = Findings(project, apps, django, database, hints, source, why, problems)
    if project.existing_section is not None:
        found.existing_problems = _existing_problems(root / "pyproject.toml")
    return render(found)


def _existing_problems(path: Path) -> list[str]:
    """What the plugin's parser says of the section already there (as the built-in gates read it):
    the same lines a run would print, which quote values as written, never an environment value."""
    try:
        load_config(path, registry.table_parsers())
    except ConfigError as exc:
        return list(exc.messages)
    return []


def _drf_token(django: DjangoProject | None) -> bool:
    return django is not None and "rest_framework.authtoken" in django.installed_apps


def _coverage_source(project: Project, app: AppCandidate | None,
                     django: DjangoProject | None) -> tuple[list[str], str]:
    """What the coverage gate measures: the app's package, a Django project's own packages, or
    else the project's top-level packages outside the tests."""
    if django is not None and django.local_packages and (app is None or app.framework == "Django"):
        folders = [project.modules[name].path.parent.as_posix() for name in django.local_packages]
        return folders, f"the Django project's own packages (INSTALLED_APPS and {django.settings.name})"
    if app is not None:
        top = app.module.name.split(".")[0]
        package = project.modules.get(top)
        if package is not None and package.path.name == "__init__.py":
            return [package.path.parent.as_posix()], f"the package of the app ({top})"
        return [top], f"the app's module ({app.module.path.as_posix()}), measured by its import name"
    packages = sorted(module.path.parent.as_posix() for name, module in project.modules.items()
                      if "." not in name and module.path.name == "__init__.py"
                      and not project.is_test_file(module.path) and name not in ("docs", "examples", "scripts"))
    return packages[:5], "the project's top-level packages outside the tests"
