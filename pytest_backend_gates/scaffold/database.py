"""The database the service talks to, as far as the source says: the libraries it imports,
`create_engine(...)` URLs, the environment variables it reads for them, SQLite files.

What the queries gate needs to know is whether its statements can be counted in-process
(SQLAlchemy and what builds on it, sqlite3, Django); the rest goes into comments so a team
sees which database the gates will write to. A password in a URL written in the source is
never repeated (`postgresql://app:***@db/app`), and environment variables are named, never read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_backend_gates.scaffold.project import Module, Project
from pytest_backend_gates.scaffold.resolve import Resolver, call_name

# imported top-level package -> (label, counted per request by the queries gate)
LIBRARIES: dict[str, tuple[str, bool]] = {
    "sqlmodel": ("SQLModel", True),
    "flask_sqlalchemy": ("Flask-SQLAlchemy", True),
    "sqlalchemy": ("SQLAlchemy", True),
    "sqlite3": ("sqlite3", True),
    "aiosqlite": ("aiosqlite", False),
    "psycopg": ("psycopg", False),
    "psycopg2": ("psycopg2", False),
    "asyncpg": ("asyncpg", False),
    "pymysql": ("PyMySQL", False),
    "MySQLdb": ("mysqlclient", False),
    "pymongo": ("pymongo", False),
    "motor": ("motor", False),
}
_URL = re.compile(r"^(sqlite|postgres|postgresql|mysql|mariadb|oracle|mssql|cockroachdb)(\+\w+)?://", re.IGNORECASE)
_ENV_NAME = re.compile(r"DATABASE|(^|_)DB(_|$)|DSN|SQLALCHEMY|POSTGRES|MYSQL", re.IGNORECASE)
_SQLITE_NAME = re.compile(r"^[\w./-]+\.(db|sqlite3?)$")


@dataclass
class Database:
    libraries: list[str] = field(default_factory=list)  # labels, in the order of LIBRARIES
    counted: bool = False  # the queries gate counts its statements in-process
    urls: list[tuple[str, str]] = field(default_factory=list)  # (URL, where); passwords masked
    env_vars: list[tuple[str, str]] = field(default_factory=list)  # (variable name, where)
    engines: list[str] = field(default_factory=list)  # "create_engine(...) in x.py line 3"
    sqlite_files: list[str] = field(default_factory=list)
    django_engine: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.libraries or self.urls or self.django_engine)


def mask_password(url: str) -> str:
    """'postgresql://app:s3cret@db/app' -> 'postgresql://app:***@db/app'."""
    return re.sub(r"^([^:/]+(?:\+\w+)?://[^:/@]*):[^@/]*@", r"\1:***@", url)


def find_database(project: Project, resolver: Resolver, scope: Callable[[Module], bool],
                  django_engine: str | None = None, data_under: Path | None = None) -> Database:
    """What the modules `scope` accepts (the app's own) say about the database."""
    database = Database(django_engine=django_engine)
    imported: set[str] = set()
    for module in project.modules.values():
        if project.is_test_file(module.path) or not scope(module):
            continue
        where = module.path.as_posix()
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                _literal(database, node.value.strip(), f"{where} line {node.lineno}")
            elif isinstance(node, ast.Call):
                _call(database, resolver, node, module, where)
    for package, (label, counted) in LIBRARIES.items():
        if package in imported and not (label == "SQLAlchemy" and {"sqlmodel", "flask_sqlalchemy"} & imported):
            database.libraries.append(label)
            database.counted = database.counted or counted
    if django_engine is not None or "django" in imported and any(
            isinstance(n, ast.ImportFrom) and (n.module or "").startswith("django.db")
            for m in project.modules.values() if scope(m) for n in ast.walk(m.tree)):
        database.libraries.append("Django ORM")
        database.counted = True
    for path in project.data_files:
        if data_under is not None and data_under != Path(".") and data_under not in path.parents:
            continue  # another project's file
        if path.as_posix() not in database.sqlite_files:
            database.sqlite_files.append(path.as_posix())
    return database


def _literal(database: Database, text: str, where: str) -> None:
    if _URL.match(text) and len(text) < 300 and not text.endswith(("://", ":///")):  # not a prefix test
        url = mask_password(text)
        if url not in (u for u, _ in database.urls):
            database.urls.append((url, where))
        if text.lower().startswith("sqlite") and text.count("/") >= 3:
            name = text.split(":///", 1)[-1].split("?")[0]
            if name and name != ":memory:" and name not in database.sqlite_files:
                database.sqlite_files.append(name)
    elif _SQLITE_NAME.match(text) and not text.startswith("django.") and text not in database.sqlite_files:
        database.sqlite_files.append(text)


def _call(database: Database, resolver: Resolver, node: ast.Call, module: Module, where: str) -> None:
    name = call_name(node.func)
    if name in ("create_engine", "create_async_engine") and node.args:
        database.engines.append(f"{name}({ast.unparse(node.args[0])}) in {where} line {node.lineno}")
        return
    # os.environ.get("X"), os.getenv("X"), environ["X"] is a Subscript; a project helper
    # env("X") / _env("X") / config("X") reads one too.
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        variable = node.args[0].value
        reads_env = name in ("getenv", "get", "setdefault") and "environ" in ast.unparse(node.func) or \
            name in ("getenv", "env", "_env", "config", "get_env", "env_str") or name.endswith("_env")
        if reads_env and _ENV_NAME.search(variable) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            if variable not in (v for v, _ in database.env_vars):
                helper = "" if "environ" in ast.unparse(node.func) or name == "getenv" else f", through {name}()"
                database.env_vars.append((variable, f"{where} line {node.lineno}{helper}"))
