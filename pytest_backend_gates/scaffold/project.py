"""The project as files: its Python modules parsed (never imported), its pytest settings,
its schema documents and the tools installed next to it.

`--backend-gates-init` must not run the project's code: importing an app can connect to a
database, read secrets from the environment or start threads. Everything here is read from
disk; the installed tools are looked up with `importlib.util.find_spec`, which finds a module
without importing it.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import importlib.util
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Folders that hold no project code: environments, caches, builds, vendored packages.
SKIPPED_DIRS = frozenset({".venv", "venv", "env", "site-packages", "dist-packages", "node_modules", ".git",
                          "build", "dist", "__pycache__", ".tox", ".nox", ".eggs", ".mypy_cache",
                          ".pytest_cache", ".ruff_cache", ".hypothesis", "htmlcov"})
MAX_PY_FILES = 5000  # a monorepo's worth; beyond it the scaffold says it stopped looking
MAX_FILE_BYTES = 1_000_000  # generated modules and data dumps above this are not someone's app
MAX_SPEC_FILES = 2000  # YAML/JSON files looked at for an OpenAPI document
TEST_DIR_NAMES = ("tests", "test")
PROJECT_FILES = frozenset({"pyproject.toml", "setup.py", "setup.cfg"})
_SPEC_HEAD = re.compile(r"""^\s*["']?(openapi|swagger)["']?\s*:""", re.MULTILINE)

# The tools the generated configuration depends on: module found by find_spec -> distribution.
EXTRAS: dict[str, str] = {
    "schemathesis": "schemathesis",
    "hypothesis": "hypothesis",
    "locust": "locust",
    "coverage": "coverage",
    "xdist": "pytest-xdist",
    "pytest_django": "pytest-django",
    "sqlalchemy": "sqlalchemy",
    "pytest_cov": "pytest-cov",
    "uvicorn": "uvicorn",  # serves an ASGI app for the load gate
}


@dataclass
class Module:
    """One parsed Python file of the project."""

    name: str  # dotted import name, as pytest would import it with the roots below on sys.path
    path: Path  # relative to the project root
    tree: ast.Module
    import_root: Path  # the folder that must be on sys.path for `name` to import

    def line_of(self, node: ast.AST) -> int:
        return getattr(node, "lineno", 0)


@dataclass
class PytestSettings:
    source: str | None = None  # the file the settings came from, e.g. "pyproject.toml"
    testpaths: tuple[str, ...] = ()
    pythonpath: tuple[str, ...] = ()
    django_settings: str | None = None  # pytest-django's DJANGO_SETTINGS_MODULE ini key


@dataclass
class Project:
    root: Path
    modules: dict[str, Module] = field(default_factory=dict)
    unparsable: list[str] = field(default_factory=list)  # files that are no valid Python 3 (skipped)
    truncated: bool = False  # more than MAX_PY_FILES Python files: the rest was not read
    spec_files: list[Path] = field(default_factory=list)  # OpenAPI/Swagger documents (relative)
    data_files: list[Path] = field(default_factory=list)  # *.db, *.sqlite, *.sqlite3 (relative)
    locustfiles: list[Path] = field(default_factory=list)
    pytest: PytestSettings = field(default_factory=PytestSettings)
    test_dirs: tuple[str, ...] = ()
    test_dirs_from: str = ""  # why these: "testpaths in pyproject.toml", "the tests/ folder"
    existing_section: int | None = None  # line of an existing [tool.backend-gates] in pyproject.toml
    installed: dict[str, str | None] = field(default_factory=dict)  # distribution -> version (None: missing)

    def is_test_file(self, path: Path) -> bool:
        """Under a test folder (testpaths, tests/, test/), or a test module or conftest.py."""
        if path.name.startswith("test_") or path.name == "conftest.py" or "tests" in path.parts[:-1]:
            return True
        if path.parts and path.parts[0] in TEST_DIR_NAMES:
            return True
        folders = (Path(os.path.normpath(d)) for d in self.test_dirs)
        return any(folder != Path(".") and folder in path.parents for folder in folders)

    def has(self, distribution: str) -> bool:
        return self.installed.get(distribution) is not None


def read_project(root: Path) -> Project:
    project = Project(root=root)
    project.pytest = read_pytest_settings(root)
    project.test_dirs, project.test_dirs_from = _test_dirs(root, project.pytest)
    project.existing_section = _existing_section(root / "pyproject.toml")
    roots = _import_roots(root, project.pytest)
    python_files: list[Path] = []
    other_files: list[Path] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if _project_dir(Path(directory), d))
        if directory != str(root) and PROJECT_FILES & set(files):
            # A project inside the project (a service of a monorepo): its modules import from there.
            nested = Path(directory).relative_to(root)
            roots += [nested, nested / "src"] if (Path(directory) / "src").is_dir() else [nested]
        for name in sorted(files):
            path = Path(directory, name)
            if name.endswith(".py"):
                python_files.append(path)
            elif name.endswith((".yaml", ".yml", ".json", ".db", ".sqlite", ".sqlite3")):
                other_files.append(path)
    if len(python_files) > MAX_PY_FILES:
        project.truncated = True
        python_files = sorted(python_files, key=lambda p: len(p.parts))[:MAX_PY_FILES]
    for path in python_files:
        _parse(project, path, roots)
    for path in other_files[:MAX_SPEC_FILES]:
        relative = path.relative_to(root)
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            project.data_files.append(relative)
        elif _is_spec(path):
            project.spec_files.append(relative)
    if not project.test_dirs:  # no testpaths and no tests/ folder: where test modules are
        folders = sorted({m.path.parent.as_posix() for m in project.modules.values()
                          if m.path.name.startswith("test_") or m.path.name.endswith("_test.py")},
                         key=lambda f: (f.count("/"), f))
        if folders:
            project.test_dirs = tuple(folders[:3])
            project.test_dirs_from = "folders holding test modules; no testpaths in the pytest configuration"
    project.locustfiles = sorted((m.path for m in project.modules.values() if m.path.name == "locustfile.py"),
                                 key=lambda p: (len(p.parts), p.as_posix()))
    project.installed = installed_extras()
    return project


def _project_dir(parent: Path, name: str) -> bool:
    if name in SKIPPED_DIRS or name.startswith(".") or name.endswith(".egg-info"):
        return False
    return not (parent / name / "pyvenv.cfg").exists()  # a virtual environment under any name


def _parse(project: Project, path: Path, roots: list[Path]) -> None:
    relative = path.relative_to(project.root)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return
        tree = ast.parse(path.read_bytes(), filename=str(relative))
    except (SyntaxError, ValueError, OSError):  # Python 2 files, templates named .py, unreadable
        project.unparsable.append(relative.as_posix())
        return
    name, import_root = module_name(project.root, relative, roots)
    if name and name not in project.modules:
        project.modules[name] = Module(name=name, path=relative, tree=tree, import_root=import_root)


def module_name(root: Path, relative: Path, roots: list[Path]) -> tuple[str, Path]:
    """The dotted name `relative` imports as, and the folder that must be on sys.path for it.

    Regular packages (with __init__.py) decide the name; above them, the deepest of the known
    import roots (pytest's `pythonpath`, src/, the rootdir) that holds the file is taken as the
    sys.path entry, so a folder without __init__.py in between is a namespace package."""
    parts = [] if relative.name == "__init__.py" else [relative.stem]
    folder = relative.parent
    while folder != Path(".") and (root / folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    holding = [r for r in roots if folder == r or r in folder.parents or r == Path(".")]
    base = max(holding, key=lambda r: len(r.parts)) if holding else folder
    if base != folder:
        parts = [*folder.relative_to(base).parts, *parts] if base != Path(".") else [*folder.parts, *parts]
    if not all(part.isidentifier() for part in parts):
        return "", base
    return ".".join(parts), base


def _import_roots(root: Path, settings: PytestSettings) -> list[Path]:
    roots = [Path(".")]
    if (root / "src").is_dir() and not (root / "src" / "__init__.py").exists():
        roots.append(Path("src"))
    for entry in settings.pythonpath:
        candidate = Path(os.path.normpath(entry))
        if not candidate.is_absolute() and not str(candidate).startswith(".."):
            roots.append(candidate)
    return roots


def _is_spec(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            head = stream.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    if path.suffix == ".json":
        return re.search(r'"(openapi|swagger)"\s*:\s*"\d', head) is not None
    return _SPEC_HEAD.search(head) is not None


# --------------------------------------------------------------------------
# pytest's own settings, as pytest would find them in the rootdir
# --------------------------------------------------------------------------


def read_pytest_settings(root: Path) -> PytestSettings:
    """testpaths, pythonpath and DJANGO_SETTINGS_MODULE from the first file pytest reads."""
    for name in ("pytest.ini", ".pytest.ini"):
        values = _ini_section(root / name, "pytest")
        if values is not None:
            return _settings(name, values)
    table = _pyproject(root / "pyproject.toml").get("tool", {}).get("pytest", {})
    if isinstance(table, dict) and table:
        # pytest 9's native [tool.pytest] table, or the classic [tool.pytest.ini_options]
        options = table.get("ini_options", table)
        if isinstance(options, dict):
            return _settings("pyproject.toml", options)
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        values = _ini_section(root / name, section)
        if values is not None:
            return _settings(name, values)
    return PytestSettings()


def _ini_section(path: Path, section: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    return dict(parser[section]) if parser.has_section(section) else None


def _pyproject(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _settings(source: str, values: dict[str, Any]) -> PytestSettings:
    django = values.get("DJANGO_SETTINGS_MODULE", values.get("django_settings_module"))
    return PytestSettings(source=source, testpaths=_words(values.get("testpaths")),
                          pythonpath=_words(values.get("pythonpath")),
                          django_settings=django.strip() if isinstance(django, str) and django.strip() else None)


def _test_dirs(root: Path, settings: PytestSettings) -> tuple[tuple[str, ...], str]:
    if settings.testpaths:
        return settings.testpaths, f"testpaths in {settings.source}"
    found = tuple(name for name in TEST_DIR_NAMES if (root / name).is_dir())
    return found, "the folder" + ("s " if len(found) > 1 else " ") + ", ".join(f"{d}/" for d in found)


def _existing_section(path: Path) -> int | None:
    """The line of [tool.backend-gates] (or of a first [tool.backend-gates.X]) in pyproject.toml."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines, start=1):
        if re.match(r"""^\s*\[\s*tool\s*\.\s*["']?backend-gates["']?\s*[\].]""", line):
            return number
    return None


# --------------------------------------------------------------------------
# Installed tools, found without importing them
# --------------------------------------------------------------------------


def installed_extras() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for module, distribution in EXTRAS.items():
        try:
            present = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            present = False
        version: str | None = None
        if present:
            try:
                version = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                version = "installed"
        found[distribution] = version
    return found
