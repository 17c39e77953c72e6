"""The queries gate end to end: the seeded N+1s of examples/queries are found and their fixed
twins pass (marker, fixture, per request through the api fixture and the contract gate), the
counted window is exactly the block / the call phase, bad markers and config give one clear
error, and results are merged under xdist. Capture and normalization are also tested directly."""

from __future__ import annotations

import fnmatch
import os
import sqlite3
import textwrap
import threading

import pytest
from conftest import EXAMPLES, example_files, gate, read_report

from pytest_backend_gates.gates.queries.capture import counting, watch
from pytest_backend_gates.gates.queries.statements import QueryLog, statement_shape

# Imported once for the whole process: pytester's in-process runs drop the modules they imported,
# and SQLAlchemy cannot be imported a second time into the same interpreter.
sqlalchemy = pytest.importorskip("sqlalchemy.orm")
try:  # async SQLAlchemy on aiosqlite (both optional): imported once, for the same reason
    import aiosqlite  # noqa: F401
    import sqlalchemy.ext.asyncio  # noqa: F401
    ASYNC_SQLALCHEMY = True
except ImportError:
    ASYNC_SQLALCHEMY = False
needs_async_sqlalchemy = pytest.mark.skipif(not ASYNC_SQLALCHEMY, reason="needs SQLAlchemy's asyncio extension, "
                                            "greenlet and aiosqlite")

QUERIES = EXAMPLES / "queries"
PG_DSN = os.environ.get("BACKEND_GATES_PG_DSN")
NO_FUZZ = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")


def queries_project(pytester: pytest.Pytester, extra: str = "") -> None:
    example_files(pytester, "queries", extra)


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variant: str, *args: str) -> pytest.RunResult:
    monkeypatch.setenv("QUERIES_VARIANT", variant)
    if "-n" in args:  # xdist starts processes
        return pytester.runpytest_subprocess(*NO_FUZZ, *args)
    return pytester.runpytest(*NO_FUZZ, *args)


# -- capture and normalization, directly -------------------------------------------------------


@pytest.mark.parametrize("sql, shape", [
    ("SELECT * FROM books WHERE author_id = 7", "SELECT * FROM books WHERE author_id = ?"),
    ("select * from t1 where name = 'O''Brien' and x in (1, 2, 3)", "select * from t1 where name = ? and x IN (?)"),
    ("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)", "INSERT INTO t (a, b) VALUES (?, ?)"),
    ("SELECT x::int FROM t WHERE id = %(id)s AND y = $1 AND z = :name -- note",
     "SELECT x::int FROM t WHERE id = ? AND y = ? AND z = ?"),
    ("SELECT  a,\n  b FROM t LIMIT 10 OFFSET %s;", "SELECT a, b FROM t LIMIT ? OFFSET ?"),
])
def test_statement_shape(sql: str, shape: str) -> None:
    assert statement_shape(sql) == shape


def test_sqlite_and_sqlalchemy_statements_count_once_from_any_thread() -> None:
    import sqlalchemy

    before = sqlite3.connect(":memory:")  # opened before counting: only seen once watched
    before.execute("CREATE TABLE t (x)")
    engine = sqlalchemy.create_engine("sqlite://")  # SQLAlchemy opens sqlite3 connections itself
    log = QueryLog()
    with counting(log):
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
            connection.execute(sqlalchemy.text("SELECT 2"))
        before.execute("SELECT 'unwatched'")
        watch(before)
        before.execute("SELECT * FROM t WHERE x = ?", (5,))
        inside = sqlite3.connect(":memory:", check_same_thread=False)
        worker = threading.Thread(target=lambda: inside.execute("SELECT 'from a thread'"))
        worker.start()
        worker.join()
        inside.execute("CREATE TABLE u (y)")
        inside.execute("INSERT INTO u VALUES (1)")  # the implicit BEGIN is not counted
        inside.commit()
    inside.execute("SELECT 'after the block'")
    sources = [(s.source, s.sql) for s in log.entries]
    assert sources == [
        ("sqlalchemy", "SELECT 1"), ("sqlalchemy", "SELECT 2"),
        ("sqlite3", "SELECT * FROM t WHERE x = 5"),
        ("sqlite3", "SELECT 'from a thread'"), ("sqlite3", "CREATE TABLE u (y)"), ("sqlite3", "INSERT INTO u VALUES (1)"),
    ]
    assert not hasattr(sqlite3.connect, "__wrapped__")  # unwrapped after the block
    before.close()
    inside.close()


def test_a_statement_is_counted_once_whoever_sees_it() -> None:
    import sqlalchemy
    from sqlalchemy.exc import OperationalError

    from pytest_backend_gates.gates.queries.capture import hold_hooks, release_hooks

    hold_hooks()  # as with --backend-gates: connections opened from now on are counting ones
    try:
        # SQLAlchemy over a sqlite3 connection we count too: opened by the project's creator=
        wrapped = sqlalchemy.create_engine("sqlite://", creator=lambda: sqlite3.connect(":memory:"))
        unhooked = sqlalchemy.create_engine("sqlite://")  # SQLAlchemy's own connection: its listener only
        for engine in (wrapped, unhooked):
            with engine.connect() as connection:  # first connect (the dialect's own set-up) before counting
                connection.execute(sqlalchemy.text("SELECT 0"))
        log = QueryLog()
        with counting(log):
            with wrapped.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
                with pytest.raises(OperationalError):
                    connection.execute(sqlalchemy.text("SELECT * FROM missing"))
            with unhooked.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 2"))
            # an outer statement's claim ends with it: the same texts sent straight to sqlite3 count
            direct = sqlite3.connect(":memory:")
            direct.execute("SELECT 1")
            direct.execute("SELECT 2")
            with pytest.raises(sqlite3.OperationalError):
                direct.execute("SELECT * FROM missing")
            direct.close()
    finally:
        release_hooks()
    assert [(s.source, s.sql) for s in log.entries] == [
        ("sqlalchemy", "SELECT 1"), ("sqlalchemy", "SELECT * FROM missing"), ("sqlalchemy", "SELECT 2"),
        ("sqlite3", "SELECT 1"), ("sqlite3", "SELECT 2"), ("sqlite3", "SELECT * FROM missing"),
    ]
    wrapped.dispose()
    unhooked.dispose()


@pytest.mark.skipif(not PG_DSN, reason="BACKEND_GATES_PG_DSN is not set (.ci/run starts a PostgreSQL)")
def test_watch_counts_a_psycopg_connection() -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(PG_DSN, autocommit=True) as connection:
        stop = watch(connection)
        log = QueryLog()
        with counting(log):
            for number in range(4):
                connection.execute("SELECT %s::int", (number,))
            with connection.cursor() as cursor:
                cursor.execute("SELECT 'x'")
        stop()
        assert log.count == 5
        assert [g.count for g in log.groups()] == [4, 1]
        assert connection.cursor_factory is psycopg.Cursor


DJANGO_TESTS = """
import threading

import pytest
from django.db import connection, connections


@pytest.mark.django_db(transaction=True)  # a test that counts Django's statements uses the database
def test_django(query_counter):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x integer)")
    with query_counter() as q:
        with connection.cursor() as cursor:
            for n in range(4):
                cursor.execute("SELECT x FROM t WHERE x = %s", [n])

        def other_thread():
            with connections["default"].cursor() as cursor:  # a new connection in this thread
                cursor.execute("SELECT 'thread'")
            connections.close_all()
        worker = threading.Thread(target=other_thread)
        worker.start(); worker.join()
    assert q.count == 5, q.statements
    assert [g.count for g in q.groups()] == [4, 1]
    q.assert_max(5, repeats=4)


@pytest.mark.django_db
@pytest.mark.query_budget(max=2)
def test_budget():  # the call phase only: pytest-django's set-up of the test database is not counted
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")
"""


@pytest.mark.parametrize("pytest_django", [True, False], ids=["pytest-django", "plain-django"])
def test_django_statements_are_counted_once(pytester: pytest.Pytester, pytest_django: bool) -> None:
    pytest.importorskip("django")  # not a dependency: runs where Django is installed
    if pytest_django:
        pytest.importorskip("pytest_django")
    pytester.makeconftest(textwrap.dedent("""
        import django
        from django.conf import settings


        def pytest_configure(config):
            # pytest-django's way without a settings module (and plain Django's too)
            config.addinivalue_line("markers", "django_db(transaction=False): pytest-django's mark")
            settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
                               INSTALLED_APPS=[], USE_TZ=True)
            django.setup()
    """))
    pytester.makepyfile(DJANGO_TESTS)
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "gates.json"\n')
    plugin = () if pytest_django else ("-p", "no:django")
    for flags in ((), ("--backend-gates",)):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *plugin, *flags)
        result.assert_outcomes(passed=2)
        plugins = next(line for line in result.stdout.lines if line.startswith("plugins:"))
        assert ("django-" in plugins) is pytest_django
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "passed" and queries["measured"]["statements"] == 5 + 2


# -- async SQLAlchemy on aiosqlite --------------------------------------------------------------

# An async SQLAlchemy app as fastapi-users' example writes one: AsyncAttrs, an N+1 through
# `awaitable_attrs` (one SELECT per project). NullPool: each block opens its aiosqlite
# connection (and so its sqlite3 connection, in aiosqlite's own thread) while counting, and no
# pooled connection is tied to an event loop that is gone.
TASKS_DB = """
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncAttrs, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.pool import NullPool

PROJECTS = 5


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    tasks: Mapped[list["Task"]] = relationship(order_by="Task.id")


class Task(Base):
    __tablename__ = "task"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    title: Mapped[str]


engine = create_async_engine("sqlite+aiosqlite:///./tasks.db", poolclass=NullPool)
sessions = async_sessionmaker(engine, expire_on_commit=False)


async def seed():
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    async with sessions.begin() as session:
        session.add_all([Project(name=f"p{n}", tasks=[Task(title=f"t{n}.{i}") for i in (1, 2)])
                         for n in range(PROJECTS)])


async def project_page():
    async with sessions() as session:
        projects = (await session.scalars(select(Project).order_by(Project.id))).all()
        return [{"id": p.id, "tasks": [t.title for t in await p.awaitable_attrs.tasks]}  # N+1
                for p in projects]
"""

TASKS_APP = """
import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

import tasks_db


@asynccontextmanager
async def lifespan(app):
    await tasks_db.seed()
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/projects")
async def projects():
    return await tasks_db.project_page()
"""

TASKS_TESTS = """
import asyncio

import pytest

import tasks_db


@pytest.fixture(scope="module", autouse=True)
def seeded():
    asyncio.run(tasks_db.seed())


def test_each_statement_is_counted_once(query_counter):
    with query_counter() as q:
        page = asyncio.run(tasks_db.project_page())
    assert len(page) == tasks_db.PROJECTS
    # one SELECT of the projects, one SELECT of the tasks per project
    assert q.count == 1 + tasks_db.PROJECTS, q.statements
    assert {s.source for s in q.log.entries} == {"sqlalchemy"}


@pytest.mark.query_budget(max=1 + tasks_db.PROJECTS)
def test_the_marker_counts_once():
    asyncio.run(tasks_db.project_page())


@pytest.mark.query_budget(repeats=3)
def test_the_n_plus_one_names_its_line():
    asyncio.run(tasks_db.project_page())
"""


def async_tasks_project(pytester: pytest.Pytester, table: str = "") -> int:
    """The files, and the line of tasks_db.py that runs the N+1."""
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
    """) + textwrap.dedent(table))
    pytester.makepyfile(tasks_db=TASKS_DB, tasks_app=TASKS_APP)
    lines = (pytester.path / "tasks_db.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if line.endswith("# N+1"))


@needs_async_sqlalchemy
@pytest.mark.parametrize("flags", [(), ("--backend-gates",)], ids=["passive", "gates"])
def test_async_sqlalchemy_on_aiosqlite_counts_each_statement_once_with_its_origin(
        pytester: pytest.Pytester, flags: tuple[str, ...]) -> None:
    # SQLAlchemy's listener sees each statement in a greenlet; aiosqlite runs it on a sqlite3
    # connection in its own thread, which the sqlite3 hook counted too (10 for 5)
    n_plus_one_line = async_tasks_project(pytester)
    pytester.makepyfile(test_tasks=TASKS_TESTS)
    result = pytester.runpytest(*NO_FUZZ, *flags)
    if not flags:  # passive: the markers are not enforced, the fixture counts
        result.assert_outcomes(passed=3)
        return
    result.assert_outcomes(passed=2, failed=1)
    # the app's own line, found through the greenlet SQLAlchemy runs the statement in
    result.stdout.fnmatch_lines([
        (f"*N+1: `SELECT task.id*FROM task WHERE ? = task.project_id ORDER BY task.id`"
         f" ran 5 times (from tasks_db.py:{n_plus_one_line}); budget repeats=3"),
    ])
    queries = gate(read_report(pytester), "queries")
    [violation] = queries["violations"]
    assert violation["where"].endswith("::test_the_n_plus_one_names_its_line")
    assert queries["measured"]["statements"] == 3 * (1 + 5)


@needs_async_sqlalchemy
def test_async_sqlalchemy_requests_name_the_apps_line(pytester: pytest.Pytester) -> None:
    n_plus_one_line = async_tasks_project(pytester, """
        [tool.backend-gates.contract]
        app = "tasks_app:app"
        [tool.backend-gates.queries]
        max_repeats = 3
    """)
    pytester.makepyfile(test_api="def test_projects(api):\n    assert len(api.get('/projects').json()) == 5\n")
    result = pytester.runpytest(*NO_FUZZ, "--backend-gates=queries")
    result.assert_outcomes(passed=1)
    [violation] = gate(read_report(pytester), "queries")["violations"]
    assert violation["where"] == "GET /projects"
    assert f"ran 5 times (from tasks_db.py:{n_plus_one_line}); budget repeats=3" in violation["message"]
    assert violation["reproduce"] == "curl -X GET http://127.0.0.1:8000/projects"


# -- the marker and the fixture on the examples -------------------------------------------------


def test_seeded_n_plus_ones_fail_with_the_statements(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    queries_project(pytester)
    result = run(pytester, monkeypatch, "buggy", "test_queries.py", "--backend-gates")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*query budget exceeded (max=5, repeats=3):",
        "*26 SQL statements; budget max=5",
        # (the column list's labels differ between SQLAlchemy 2.0 releases: `books.id AS books_id`)
        "*N+1: `SELECT books.id*books.title*books.author_id* FROM books WHERE ? = books.author_id ORDER BY books.id`"
        " ran 25 times (from _library_db.py:*); budget repeats=3",
        "*statements by shape (26 in 2 shapes):",
        "*25x SELECT books.id*",
        "*2-26. (25x) SELECT books.id*",
    ])
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "failed"
    by_test = {v["where"].split("::")[1]: v for v in queries["violations"]}
    marker = by_test["test_authors_endpoint_has_no_n_plus_one"]
    assert marker["check"] == "n-plus-one" and "ran 25 times" in marker["message"]
    fixture = by_test["test_products_page_runs_few_statements"]
    assert fixture["check"] == "n-plus-one"
    assert "`SELECT AVG(stars), COUNT(*) FROM reviews WHERE product_id = ?` ran 12 times (from reviews_buggy.py:" \
        in fixture["message"]
    assert queries["measured"]["tests"] == 2
    assert queries["measured"]["worst_test"]["statements"] == 26
    assert queries["measured"]["statements"] == 26 + 13


def test_fixed_twins_pass(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    queries_project(pytester)
    result = run(pytester, monkeypatch, "fixed", "test_queries.py", "--backend-gates")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "passed" and queries["summary"] == "within budget: 2 query tests"
    assert queries["measured"]["statements"] == 2 + 1


def test_only_the_block_and_the_call_phase_count(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "gates.json"\n[tool.backend-gates.queries]\n'
                               'max_per_request = 3\n')
    pytester.makepyfile(textwrap.dedent("""
        import sqlite3, threading
        import pytest

        DB = sqlite3.connect(":memory:", check_same_thread=False)  # at import
        DB.execute("CREATE TABLE t (x)")

        @pytest.fixture
        def seeded():
            for n in range(10):
                DB.execute("INSERT INTO t VALUES (?)", (n,))
            yield DB
            DB.execute("DELETE FROM t")

        def test_block(query_counter, seeded):
            seeded.execute("SELECT 'before'")
            query_counter.watch(DB)
            with query_counter() as q:
                DB.execute("SELECT count(*) FROM t")
                worker = threading.Thread(target=lambda: DB.execute("SELECT 'thread'"))
                worker.start(); worker.join()
            DB.execute("SELECT 'after'")
            assert q.count == 2
            assert q.statements == ["SELECT count(*) FROM t", "SELECT 'thread'"]
            with query_counter:
                DB.execute("SELECT 1")
            assert query_counter.count == 1
            query_counter.assert_max(1)

        @pytest.mark.query_budget  # max_per_request = 3 from the config
        def test_marker_counts_the_call_only(seeded):
            seeded.execute("SELECT 1")
            seeded.execute("SELECT 2")
            seeded.execute("SELECT 3")
    """))
    for flags in ((), ("--backend-gates",)):
        result = pytester.runpytest(*NO_FUZZ, *flags)
        result.assert_outcomes(passed=2)
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "passed"
    assert queries["measured"]["statements"] == 2 + 1 + 3  # two blocks and one marked call
    assert not [w for w in queries["warnings"] if w.startswith("no SQL statement")]  # every window counted


def test_a_budget_met_with_nothing_counted_is_passed_with_a_warning(pytester: pytest.Pytester) -> None:
    # a driver without a hook looks like a test that runs no statement: not a failure, but said
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "gates.json"\n')
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.query_budget(max=5)
        def test_cached_page():
            pass
    """))
    result = pytester.runpytest(*NO_FUZZ, "--backend-gates")
    result.assert_outcomes(passed=1)
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "passed"
    [warning] = queries["warnings"]
    assert warning.startswith("no SQL statement was counted in test_a_budget_met_with_nothing_counted_is_passed_"
                              "with_a_warning.py::test_cached_page: if the test does reach a database")


def test_assert_max_lists_statements_numbered_and_grouped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import sqlite3

        def test_loop(query_counter):
            with query_counter:
                db = sqlite3.connect(":memory:")
                db.execute("CREATE TABLE authors (id, name)")
                for n in range(30):
                    db.execute(f"SELECT name FROM authors WHERE id = {n}")
                db.execute("SELECT count(*) FROM authors")
            query_counter.assert_max(10, repeats=5)
    """))
    result = pytester.runpytest(*NO_FUZZ)  # passive: the fixture's own assertion still fails the test
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*query budget exceeded (max=10, repeats=5):",
        "*32 SQL statements; budget max=10",
        "*N+1: `SELECT name FROM authors WHERE id = ?` ran 30 times (from test_assert_max_lists_statements*.py:8);"
        " budget repeats=5",
        "*statements by shape (32 in 3 shapes):",
        "*30x SELECT name FROM authors WHERE id = ?*",
        "*1x CREATE TABLE authors (id, name)*",
        "*statements in order*",
        "*    1. CREATE TABLE authors (id, name)",
        "*2-31. (30x) SELECT name FROM authors WHERE id = 0",
        "*   32. SELECT count(*) FROM authors",
    ])


# -- per HTTP request ------------------------------------------------------------------------------

API_TESTS = """
def test_authors(api):
    assert len(api.get("/authors").json()) == 25
    assert api.get("/authors/3").json()["name"] == "Author 3"
"""


def test_each_request_is_counted_through_the_api_fixture(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for variant in ("buggy", "fixed"):
        queries_project(pytester, f"""
            [tool.backend-gates.contract]
            app = "library_{variant}:app"
            [tool.backend-gates.queries]
            max_per_request = 10
            max_repeats = 3
        """)
        pytester.makepyfile(test_api=API_TESTS)
        result = run(pytester, monkeypatch, variant, "--backend-gates=queries", "test_api.py")
        result.assert_outcomes(passed=1)
        queries = gate(read_report(pytester), "queries")
        assert queries["measured"]["requests"] == 2
        if variant == "fixed":
            assert queries["status"] == "passed" and result.ret == 0
            assert queries["measured"]["worst_request"]["statements"] == 2
            continue
        assert queries["status"] == "failed" and result.ret == 1
        [violation] = queries["violations"]
        assert violation["where"] == "GET /authors" and violation["check"] == "n-plus-one"
        assert fnmatch.fnmatchcase(violation["message"].split("\n")[0], "26 SQL statements; budget max=10; N+1: "
                                   "`SELECT books.id*FROM books WHERE ? = books.author_id ORDER BY books.id` ran 25 "
                                   "times (from _library_db.py:*); budget repeats=3")
        assert violation["reproduce"] == "curl -X GET http://127.0.0.1:8000/authors"
        assert "GET /authors [n-plus-one]: 26 SQL statements; budget max=10; N+1: " in result.stdout.str()


def test_contract_cases_are_counted_per_operation(pytester: pytest.Pytester) -> None:
    queries_project(pytester, """
        [tool.backend-gates.contract]
        app = "reviews_buggy:app"
        schema = "reviews.yaml"
        max_examples = 3
        [tool.backend-gates.queries]
        max_repeats = 3
    """)
    pytester.makefile(".yaml", reviews=textwrap.dedent("""
        openapi: 3.0.3
        info: {title: reviews, version: "1"}
        paths:
          /products:
            get:
              responses:
                "200": {description: products, content: {application/json: {schema: {type: array}}}}
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--backend-gates=contract,queries")
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "failed", result.stdout.str()
    [violation] = queries["violations"]
    assert violation["where"] == "GET /products" and violation["check"] == "n-plus-one"
    assert "ran 12 times" in violation["message"] and violation["reproduce"].startswith("curl -X GET")
    assert "http://127.0.0.1:8000/products" in violation["reproduce"]
    assert gate(read_report(pytester), "contract")["status"] == "passed"


# An N+1 per item (one SELECT of its tags each), and an app more lenient than its schema: the
# schema allows limit 1..3, the app serves up to 40 items. Schemathesis' negative cases (limit
# 4..40, unknown parameters) answer 200 and run the most statements; the reproduction must
# still be a valid request.
ITEMS_APP = """
import sqlite3
import threading

from fastapi import FastAPI, Query

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
DB.execute("CREATE TABLE tags (item_id INTEGER, name TEXT)")
for n in range(1, 41):
    DB.execute("INSERT INTO items VALUES (?, ?)", (n, f"item {n}"))
    DB.execute("INSERT INTO tags VALUES (?, ?)", (n, f"tag {n}"))
LOCK = threading.Lock()
app = FastAPI()


@app.get("/items")
def items(limit: int = Query(ge=1, le=40)):
    with LOCK:
        rows = DB.execute("SELECT id, name FROM items ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [{"id": i, "name": name,
                 "tags": [t for (t,) in DB.execute("SELECT name FROM tags WHERE item_id = ?", (i,))]}
                for i, name in rows]
"""
ITEMS_SCHEMA = """
openapi: 3.0.3
info: {title: items, version: "1"}
paths:
  /items:
    get:
      parameters:
        - {name: limit, in: query, required: true, example: 3, schema: {type: integer, minimum: 1, maximum: 3}}
      responses:
        "200": {description: items, content: {application/json: {schema: {type: array}}}}
        "422": {description: invalid}
"""


def items_project(pytester: pytest.Pytester, table: str) -> None:
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "items_app:app"
        schema = "items.yaml"
        [tool.backend-gates.queries]
        max_repeats = 1
    """) + textwrap.dedent(table))
    pytester.makepyfile(items_app=ITEMS_APP)
    pytester.makefile(".yaml", items=ITEMS_SCHEMA)


def test_a_request_violation_is_reproduced_by_a_valid_request_answered_2xx(pytester: pytest.Pytester) -> None:
    items_project(pytester, "")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--backend-gates=contract,queries")
    queries = gate(read_report(pytester), "queries")
    [violation] = queries["violations"]
    assert violation["where"] == "GET /items", result.stdout.str()
    limit = int(violation["reproduce"].split("limit=")[1].split("'")[0].split("&")[0])
    assert violation["reproduce"].startswith("curl -X GET") and 2 <= limit <= 3, violation["reproduce"]
    assert "unknown" not in violation["reproduce"]
    # the most statements came from invalid cases (limit above 3): counted, not shown as the reproduction
    assert violation["details"]["worst_statements"] > 4, violation
    assert violation["details"]["status"] == 200
    assert violation["details"]["statements"] == 1 + limit
    assert f"ran {limit} times" in violation["message"]
    assert f" requests over budget, the worst with {violation['details']['worst_statements']} statements; shown: " \
           "the valid request answered 2xx that ran the most)" in violation["message"]


def test_requests_are_named_by_their_operation_under_a_base_path(pytester: pytest.Pytester) -> None:
    # `servers: [{url: /api}]`: the contract names the operation "GET /items", the api fixture
    # the path "/api/items"; one operation, one violation
    items_project(pytester, "")
    pytester.makepyprojecttoml((pytester.path / "pyproject.toml").read_text().replace('"items_app:app"',
                                                                                       '"items_api:app"'))
    pytester.makepyfile(items_api="from fastapi import FastAPI\nimport items_app\n\napp = FastAPI()\n"
                                  "app.mount('/api', items_app.app)\n",
                        test_api="def test_items(api):\n    assert len(api.get('/api/items?limit=3').json()) == 3\n")
    pytester.makefile(".yaml", items=ITEMS_SCHEMA.replace("paths:", "servers: [{url: /api}]\npaths:"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--backend-gates=contract,queries")
    [violation] = gate(read_report(pytester), "queries")["violations"]
    assert violation["where"] == "GET /items", result.stdout.str()
    assert "/api/items?limit=" in violation["reproduce"]
    assert violation["details"]["requests_over_budget"] >= 2  # the contract's cases and the test's request


def test_a_request_nobody_published_is_reproduced_from_its_request_line(pytester: pytest.Pytester) -> None:
    # the latency gate's samples are not published as exchanges: the violation still says how to replay
    items_project(pytester, """
        [tool.backend-gates.latency]
        samples = 3
        budgets = { "GET /items" = "p95 < 60s" }
    """)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--backend-gates=latency,queries")
    queries = gate(read_report(pytester), "queries")
    [violation] = queries["violations"]
    assert violation["where"] == "GET /items", result.stdout.str()
    assert violation["reproduce"] == "curl -X GET 'http://127.0.0.1:8000/items?limit=3'"
    assert "ran 3 times" in violation["message"]


# -- bad input ---------------------------------------------------------------------------------------


def test_bad_markers_are_one_clear_error_each(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.backend-gates]\nreport = "gates.json"\n')
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.query_budget(max="x")
        def test_text(): pass

        @pytest.mark.query_budget(max=-1)
        def test_negative(): pass

        @pytest.mark.query_budget(maxx=3)
        def test_typo(): pass

        @pytest.mark.query_budget
        def test_no_budget(): pass
    """))
    result = pytester.runpytest(*NO_FUZZ, "--backend-gates")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.query_budget(max='x'): max='x' is not allowed; expected an integer from 0 to 1000000*",
        "*@pytest.mark.query_budget(max=-1): max=-1 is not allowed; expected an integer from 0 to 1000000*",
        "*@pytest.mark.query_budget(maxx=3): unknown argument 'maxx'; did you mean 'max'? allowed: max, repeats",
        "*@pytest.mark.query_budget(): no budget: give max= and/or repeats=, or set max_per_request / max_repeats "
        "in ?tool.backend-gates.queries?",
    ])
    assert "During handling" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "error" and queries["summary"].startswith("bad query_budget marker: ")


def test_bad_config_is_one_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.backend-gates.queries]\nmax_per_request = "ten"\nmax_repeat = 3\n')
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest(*NO_FUZZ, "--backend-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[:3] == [
        "ERROR: backend-gates configuration has 2 problems:",
        "  [tool.backend-gates.queries] max_per_request: 'ten' is not an integer; expected an integer from 1 to 1000000",
        "  [tool.backend-gates.queries] max_repeat: unknown key; did you mean 'max_repeats'? allowed keys: "
        "max_per_request, max_repeats",
    ]
    assert "Traceback" not in result.stderr.str()


def test_assert_max_with_a_bad_argument_is_a_clear_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        def test_bad(query_counter):
            with query_counter:
                pass
            query_counter.assert_max("3")

        def test_watch_something_else(query_counter):
            query_counter.watch(object())
    """))
    result = pytester.runpytest(*NO_FUZZ)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*query_counter.assert_max: n='3' is not allowed; expected an integer from 0 to 1000000 (or None for no limit)",
        "*query_counter.watch(): cannot count the statements of a builtins.object: watch() takes a sqlite3 "
        "connection*",
    ])


# -- xdist --------------------------------------------------------------------------------------------


def test_under_xdist_results_are_merged(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    queries_project(pytester, """
        [tool.backend-gates.contract]
        app = "library_buggy:app"
        [tool.backend-gates.queries]
        max_repeats = 3
    """)
    pytester.makepyfile(test_api=API_TESTS)
    result = run(pytester, monkeypatch, "buggy", "--backend-gates=queries", "-n", "2")
    result.assert_outcomes(passed=1, failed=2)
    queries = gate(read_report(pytester), "queries")
    assert queries["status"] == "failed"
    assert sorted(v["where"].split("::")[-1] for v in queries["violations"]) == [
        "GET /authors", "test_authors_endpoint_has_no_n_plus_one", "test_products_page_runs_few_statements"]
    assert queries["measured"]["tests"] == 2 and queries["measured"]["requests"] == 2
    assert queries["measured"]["worst_test"]["statements"] == 26


SHARED_CONNECTION = """
import sqlite3, sys, threading
from pytest_backend_gates.gates.queries.capture import counting
from pytest_backend_gates.gates.queries.statements import QueryLog

log = QueryLog()
with counting(log):
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db.execute("CREATE TABLE t (name TEXT)")
    sys.setswitchinterval(1e-6)

    def work():
        for i in range(300):
            db.execute("SELECT 1 FROM t WHERE name = ?", (str(i),)).fetchone()
            db.cursor().execute("SELECT 2").fetchall()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print("statements", log.count)
"""


def test_a_connection_shared_by_threads_is_counted_without_deadlock() -> None:
    # sqlite3's set_trace_callback deadlocked this in 5 of 5 runs (the callback needs the GIL
    # while SQLite holds the connection's mutex); a subprocess, so a hang cannot stop the suite
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", SHARED_CONNECTION], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("8 threads on one counted sqlite3 connection did not finish within 120 s: deadlock")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["statements", str(1 + 8 * 300 * 2)]
