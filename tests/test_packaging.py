"""Every package the plugin imports is declared (issue 11: `httpx` was imported by four gates
and the `api` fixture but not declared: ModuleNotFoundError on 3 of 5 first installs)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_backend_gates"

# Imported only when the user's own app uses them (the plugin adapts to the framework it finds),
# inside a guard: `sys.modules.get(...)`, `except ImportError`, or an isinstance check on an app
# that can only exist if the framework is installed.
USED_ONLY_WITH_THE_USERS_FRAMEWORK = {"flask", "django", "pytest_django", "sqlalchemy", "psycopg", "psycopg2",
                                      "greenlet", "asyncpg", "aiosqlite"}


def imported_top_level_modules() -> dict[str, set[str]]:
    """top-level module -> the files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def declared() -> dict[str, set[str]]:
    """normalised distribution name -> the groups declaring it ('' = install_requires, else the extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project.get("optional-dependencies", {})}
    result: dict[str, set[str]] = {}
    for group, requirements in groups.items():
        for requirement in requirements:
            name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
            result.setdefault(_normal(name), set()).add(group)
    return result


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    stdlib = set(sys.stdlib_module_names)
    distributions = packages_distributions()
    have = declared()
    missing = []
    for module, files in sorted(imported_top_level_modules().items()):
        if module in stdlib or module == "pytest_backend_gates" or module in USED_ONLY_WITH_THE_USERS_FRAMEWORK:
            continue
        names = {_normal(d) for d in distributions.get(module, [module])}
        if not names & set(have):
            missing.append(f"{module} (imported by {', '.join(sorted(files))})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)


def test_what_every_gate_needs_is_a_plain_dependency() -> None:
    """Not an extra: `pip install pytest-backend-gates` must run every gate but load (locust)."""
    have = declared()
    for name in ("pytest", "schemathesis", "hypothesis", "coverage", "httpx", "anyio", "pyyaml"):
        assert "" in have.get(name, set()), f"{name} must be in [project] dependencies"
