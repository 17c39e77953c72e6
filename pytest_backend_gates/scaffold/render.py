"""The configuration text: `[tool.backend-gates]` with a comment per table saying what was
found and why, the gates that can run on it enabled, the others as commented hints.

Only keys the parser accepts are written (tests/test_scaffold.py loads every output with the
plugin's own parser), and a gate is enabled only when what it needs was found: contract and
security need an app and a schema, race's automatic probe needs the app, coverage a source
package, queries a database library it can count, load locust (and uvicorn for ASGI).
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field

from pytest_backend_gates import __version__
from pytest_backend_gates.config import ROOT_TABLE
from pytest_backend_gates.scaffold.apps import AppCandidate
from pytest_backend_gates.scaffold.database import Database
from pytest_backend_gates.scaffold.django_project import DjangoProject
from pytest_backend_gates.scaffold.hints import Hints
from pytest_backend_gates.scaffold.project import Project

MAX_EXAMPLES = 25  # per operation and phase: a first run that finishes; raised once the gate is green
OTHER_APPS_SHOWN = 5
_CREDENTIALS = re.compile(r"(\w[\w+.-]*://[^:/@\s'\"]*):[^@/\s'\"]*@")
_TOML_LINE = re.compile(r"^\s*(\[|[\w\"-]+\s*=)")
WIDTH = 110  # comment lines wrap here


@dataclass
class Findings:
    project: Project
    apps: list[AppCandidate]  # best first
    django: DjangoProject | None
    database: Database
    hints: Hints
    source: list[str] = field(default_factory=list)  # coverage source entries
    source_why: str = ""
    problems: list[str] = field(default_factory=list)  # parts of the scan that could not finish
    existing_problems: list[str] = field(default_factory=list)  # of the section already in pyproject.toml

    @property
    def app(self) -> AppCandidate | None:
        return self.apps[0] if self.apps else None

    @property
    def testable(self) -> bool:
        """An app and its schema: what contract, security, race auto and load need."""
        return self.app is not None and self.app.schema is not None


def toml_string(value: str) -> str:
    """A TOML basic string of `value` for a key the plugin interpolates (`$` doubled: no ${...})."""
    return json.dumps(value.replace("$", "$$"), ensure_ascii=False)


class Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, text: str = "") -> None:
        """Comment lines; credentials in a URL copied from the source are masked. Prose is wrapped;
        a commented TOML line (`key = ...`, `[table]`) stays whole, so that uncommenting it works."""
        for line in _CREDENTIALS.sub(r"\1:***@", text).splitlines() or [""]:
            indent = line[:len(line) - len(line.lstrip())]
            parts = [line] if _TOML_LINE.match(line) or len(line) <= WIDTH else \
                textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_long_words=False,
                              break_on_hyphens=False)
            self.lines.extend(f"# {part}".rstrip() for part in parts)

    def line(self, text: str = "", note: str = "") -> None:
        self.lines.append(f"{text:<38} # {note}" if note else text)

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")


def render(found: Findings) -> str:
    text = Text()
    _header(text, found)
    _root(text, found)
    _contract(text, found)
    _identities(text, found)
    _security(text, found)
    _tests_gates(text, found)
    _coverage(text, found)
    _race(text, found)
    _queries(text, found)
    _load(text, found)
    return "\n".join(text.lines).rstrip() + "\n"


def _header(text: Text, found: Findings) -> None:
    project = found.project
    text.comment(f"Starting configuration for pytest-backend-gates {__version__}, found by `pytest --backend-gates-init`")
    text.comment(f"in {project.root}. Nothing was imported or run: {len(project.modules)} Python files were read.")
    text.comment("Paste it into pyproject.toml and run `pytest --backend-gates`; docs/configuration.md lists every key.")
    if project.existing_section is not None:
        text.comment()
        text.comment(f"NOTE: pyproject.toml already has a [{ROOT_TABLE}] section (line {project.existing_section}).")
        text.comment("This is a fresh suggestion to compare with it; nothing was changed. Merge by hand: a second")
        text.comment(f"[{ROOT_TABLE}] section in the same file would not parse.")
        if found.existing_problems:
            count = len(found.existing_problems)
            text.comment(f"The section there has {count} problem{'s' if count > 1 else ''} (as the built-in gates "
                         "read it):")
            for problem in found.existing_problems[:8]:
                text.comment(f"  {problem}")
        else:
            text.comment("The section there loads without problems.")
    if project.truncated:
        text.comment(f"The project has more Python files than were read (the first {len(project.modules)}).")
    if project.unparsable:
        text.comment(f"Not valid Python 3, skipped: {_listed(project.unparsable)}.")
    for problem in found.problems:
        text.comment(f"The scan could not finish: {problem}; fill that part in by hand.")
    text.comment()
    installed = [f"{name} {version}" for name, version in project.installed.items() if version]
    missing = [name for name, version in project.installed.items() if not version]
    text.comment("Installed: " + (", ".join(installed) or "none of the tools the gates use") + ".")
    if missing:
        text.comment("Not installed: " + ", ".join(missing) + ".")
    if project.has("pytest-xdist"):
        text.comment("pytest-xdist is installed: `pytest --backend-gates -n auto` spreads the gates' items too.")
    if project.test_dirs:
        shown = ", ".join("the rootdir" if d in (".", "./") else d.rstrip("/") + "/" for d in project.test_dirs)
        text.comment(f"Tests: {shown} ({project.test_dirs_from}).")
    else:
        text.comment("Tests: no testpaths and no tests/ or test/ folder: the gates fed by tests (validation, latency")
        text.comment("budgets of tests, race probes, query budgets) have nothing to judge until there are some.")
    _database_comment(text, found.database, found.django)


def _database_comment(text: Text, database: Database, django: DjangoProject | None) -> None:
    if not database.found and not database.sqlite_files:
        text.comment("Database: none found (no SQLAlchemy, SQLModel, Django ORM, sqlite3 or driver imports).")
        return
    parts = [", ".join(database.libraries) or "no database library imported"]
    if django is not None and (django.database_engine or django.database_name):
        parts.append(f"Django DATABASES['default'] in {django.settings.path.as_posix()} line {django.database_line}: "
                     f"ENGINE {django.database_engine or '?'}, NAME {django.database_name or '?'}")
    parts += database.engines[:3]
    parts += [f"URL {url} ({where})" for url, where in database.urls[:3]]
    parts += [f"from the environment: {name} ({where})" for name, where in database.env_vars[:3]]
    if database.sqlite_files:
        parts.append("SQLite files: " + _listed(database.sqlite_files))
    text.comment("Database: " + parts[0] + ".")
    for part in parts[1:]:
        text.comment(f"  {part}")
    text.comment("  The gates create, change and delete rows through the API: in CI, give the app a throwaway database.")


def _root(text: Text, found: Findings) -> None:
    text.blank()
    text.line(f"[{ROOT_TABLE}]")
    text.line('report = "backend-gates.json"', "the JSON report: keep it as a CI artifact")
    text.comment("Turning the gates on over a codebase that already has findings: accept today's, fail on new ones.")
    text.line('# baseline = ".backend-gates/baseline.json"', "written by --backend-gates-update-baseline")
    text.comment('ignore = [ { gate = "security", check = "header-missing", where = "GET /health", reason = "why" } ]')
    text.comment("CI outputs are flags: --junitxml=junit.xml (a test case per gate), --backend-gates-sarif=PATH")
    text.comment("(code scanning), --backend-gates-codeclimate=PATH (GitLab code quality), --backend-gates-html=PATH;")
    text.comment("on GitHub Actions the step summary and the ::error annotations come by themselves.")


def _app_comment(text: Text, app: AppCandidate, found: Findings) -> None:
    built = "" if app.built_at.startswith(app.module.path.as_posix() + " line " + str(app.line)) \
        else f", built at {app.built_at}"
    text.comment(f"found: {app.framework} app ({app.interface}) in {app.where}: {app.how}{built}")
    if app.schema is not None:
        text.comment(f"schema: {app.schema}: {app.schema_why}")
    else:
        text.comment(f"schema: not found: {app.schema_why or 'no OpenAPI document in the repository'}")
    for note in app.notes:
        text.comment(f"note: {note}")
    if app.mounted_in:
        text.comment(f"note: it is mounted in {app.mounted_in}")
    others = [a for a in found.apps[1:] if a.target != app.target]
    if others:
        shown = "; ".join(f"{a.target} ({a.framework}, {a.where})" for a in others[:OTHER_APPS_SHOWN])
        more = f" and {len(others) - OTHER_APPS_SHOWN} more" if len(others) > OTHER_APPS_SHOWN else ""
        text.comment(f"other apps found (app may name one instead): {shown}{more}")
    root = app.module.import_root.as_posix()
    pythonpath = {p.rstrip("/") or "." for p in found.project.pytest.pythonpath}
    if root not in pythonpath and not (root == "." and "./" in found.project.pytest.pythonpath):
        text.comment(f'pytest imports {app.target.partition(":")[0]} from "{root}": put pythonpath = ["{root}"] in '
                     "[tool.pytest.ini_options] (or install the project)")
    if app.framework == "Django" and found.django is not None and found.project.pytest.django_settings is None:
        text.comment(f'pytest-django needs DJANGO_SETTINGS_MODULE = "{found.django.settings.name}" in '
                     "[tool.pytest.ini_options]")


def _contract(text: Text, found: Findings) -> None:
    text.blank()
    app = found.app
    if app is None:
        spec = found.project.spec_files[0].as_posix() if found.project.spec_files else None
        text.comment("No application object was found (FastAPI(...), Starlette(...), Flask(...), APIFlask(...),")
        text.comment("connexion.FlaskApp(...), Litestar(...), Django's get_wsgi_application(), or a create_app()")
        text.comment("factory returning one). Name your ASGI/WSGI app, or a running server, then uncomment:")
        text.comment("[tool.backend-gates.contract]")
        text.comment('app = "yourpackage.main:app"             # or "yourpackage:create_app()"')
        text.comment('# base_url = "http://127.0.0.1:8000"     # instead of app: a server you start before pytest')
        text.comment(f"schema = {toml_string(spec) if spec else chr(34) + '/openapi.json' + chr(34)}"
                     + ("                  # found in the repository" if spec else ""))
        text.comment(f"max_examples = {MAX_EXAMPLES}")
        return
    _app_comment(text, app, found)
    if app.schema is None:
        text.comment("The contract gate needs the schema: set it (a path the app serves, or a file) and uncomment:")
        text.comment("[tool.backend-gates.contract]")
        text.comment(f"app = {toml_string(app.target)}")
        text.comment('schema = "/openapi.json"')
        text.comment(f"max_examples = {MAX_EXAMPLES}")
        return
    text.line("[tool.backend-gates.contract]")
    text.line(f"app = {toml_string(app.target)}", f"{app.framework} ({app.interface}), in-process")
    text.line(f"schema = {toml_string(app.schema)}")
    text.line(f"max_examples = {MAX_EXAMPLES}", "per operation and phase; raise it once the gate is green")
    text.line('max_time = "300s"', "the whole contract gate; reaching it first is the gate's error")
    if found.hints.logout_routes or any("fastapi-users" in a for a in found.hints.auth):
        routes = _listed(found.hints.logout_routes) if found.hints.logout_routes else "fastapi-users' /logout"
        text.comment(f"A logout revokes the gates' own token ({routes}); keep it away if a new login cannot follow:")
        text.line('# exclude_operations = ["POST /*logout*"]')


def _identities(text: Text, found: Findings) -> None:
    if not found.testable or not found.hints.auth:
        return
    hints = found.hints
    text.blank()
    text.comment("The app authenticates: " + "; ".join(hints.auth) + ".")
    text.comment("Without credentials the gates see mostly 401s. Tell them who to act as (docs/auth.md), e.g.:")
    text.comment("[tool.backend-gates.identities.ci]")
    if hints.token_url:
        text.comment(f'login = {{ operation = "POST {hints.token_url}", form = {{ username = "ci@example.com", '
                     'password = "${CI_PASSWORD}" } }')
    else:
        route = "/" + hints.login_routes[0].lstrip("/") if hints.login_routes else "/login"
        prefix = "" if hints.token_prefix == "Bearer " else f', prefix = "{hints.token_prefix}"'
        text.comment(f'login = {{ operation = "POST {route}", json = {{ email = "ci@example.com", '
                     f'password = "${{CI_PASSWORD}}" }}, token = "{hints.token_field}"{prefix} }}')
        if hints.login_routes:
            text.comment(f"(login routes found: {_listed(hints.login_routes, 3)}; "
                         "the operation is the path as served)")
    text.comment('or static credentials: headers = { Authorization = "Bearer ${API_TOKEN}" }')


def _security(text: Text, found: Findings) -> None:
    text.blank()
    if not found.testable:
        text.comment("[tool.backend-gates.security]          # needs the contract table: checks every response, probes")
        return
    text.comment("Every response the gates see (leaks, headers, exposure, cookies, CORS) plus the active probes;")
    text.comment('the defaults fit most services. rules = { server-banner = "warn" } changes one rule\'s severity.')
    text.line("[tool.backend-gates.security]")


def _tests_gates(text: Text, found: Findings) -> None:
    text.blank()
    text.comment("On by themselves when a test uses them (input_validation fixture, @pytest.mark.latency_budget):")
    text.comment("[tool.backend-gates.validation]")
    text.comment("max_examples = 100")
    text.comment("[tool.backend-gates.latency]")
    example = '"GET /health" = "p95 < 100ms", ' if found.testable else ""
    text.comment(f'budgets = {{ {example}"tests/test_perf.py::test_hot_path" = "p95 < 5ms" }}')


def _coverage(text: Text, found: Findings) -> None:
    text.blank()
    if not found.source:
        text.comment("No source package found to measure (a folder with __init__.py outside the tests). Name it:")
        text.comment("[tool.backend-gates.coverage]")
        text.comment('source = ["yourpackage"]')
        text.comment("total = 80")
        return
    text.comment(f"found: {found.source_why}")
    text.line("[tool.backend-gates.coverage]")
    text.line(f"source = [{', '.join(toml_string(s) for s in found.source)}]")
    text.comment("No minimum yet: the first run reports the figure. Set it as the minimum, or record a baseline")
    text.comment("(--backend-gates-update-baseline): a covered figure may then rise, never fall.")
    text.line("# total = 80")
    if found.project.has("pytest-cov"):
        text.comment("pytest-cov is installed: with --cov the gate reads its data (add --cov-branch for branch = true).")


def _race(text: Text, found: Findings) -> None:
    text.blank()
    if not found.testable:
        text.comment("[tool.backend-gates.race]              # with an app: auto = true probes its create operations")
        text.comment("auto = true")
        return
    if found.hints.auth:
        text.comment("The automatic race probe sends the app's create operations (POST) concurrently. Without an "
                     "identity every one answers 401, and a probe that cannot create anything is the gate's error: "
                     "uncomment once the gates log in (above).")
        text.comment("[tool.backend-gates.race]")
        text.comment("auto = true")
        text.comment("rounds = 10")
        return
    text.comment("Probes the app's create operations (POST) with concurrent requests, and runs the race fixture and "
                 "@pytest.mark.race_probe tests. An operation it cannot exercise (no request succeeds alone: it needs "
                 "rows or credentials it does not have) is the gate's error, naming it; leave such an operation out "
                 "with exclude_operations in the contract table, or configure an identity.")
    text.line("[tool.backend-gates.race]")
    text.line("auto = true")
    text.line("rounds = 10", "rounds of 8 threads released together")


def _queries(text: Text, found: Findings) -> None:
    database = found.database
    text.blank()
    if not database.counted:
        why = f"{', '.join(database.libraries)} is not counted in-process" if database.libraries \
            else "no SQLAlchemy, SQLModel, Django ORM or sqlite3 found"
        text.comment(f"[tool.backend-gates.queries]            # {why}; query_counter.watch(conn) counts a DB-API")
        text.comment("max_per_request = 30                    # connection (docs/queries.md)")
        text.comment("max_repeats = 5")
        return
    counted = ", ".join(label for label in database.libraries)
    scope = "every request to the app, and " if found.testable else ""
    text.comment(f"found: {counted}. Counts the SQL statements of {scope}the tests marked @pytest.mark.query_budget.")
    text.line("[tool.backend-gates.queries]")
    text.line("max_per_request = 30", "statements per request")
    text.line("max_repeats = 5", "one statement shape more often than this is an N+1")


def _load(text: Text, found: Findings) -> None:
    app = found.app
    text.blank()
    project = found.project
    needs: list[str] = []
    if not project.has("locust"):
        needs.append("locust: pip install 'pytest-backend-gates[load]'")
    if app is not None and app.interface == "ASGI" and not project.has("uvicorn"):
        needs.append("uvicorn, which serves an ASGI app for the run")
    if not found.testable:
        needs.append("an app and its schema (the contract table)")
    locustfile = project.locustfiles[0].as_posix() if project.locustfiles else None
    lines = [("users = 4", ""), ("spawn_rate = 4", ""), ('duration = "10s"', ""),
             ('thresholds = ["failures < 1%", "p95 < 500ms"]', "")]
    if locustfile:
        lines.insert(0, (f"locustfile = {toml_string(locustfile)}", "found in the repository"))
    if needs:
        text.comment("The load gate (locust, before the tests) needs " + "; ".join(needs) + ". Then:")
        text.comment("[tool.backend-gates.load]")
        for line, _ in lines:
            text.comment(line)
        return
    user = f"the users of {locustfile}" if locustfile else "a default user calling the schema's safe operations"
    text.comment(f"locust {project.installed.get('locust')} is installed: a short load run before the tests, with {user}."
                 + (" Until the gates log in, it leaves out what answers 401." if found.hints.auth and not locustfile
                    else ""))
    text.line("[tool.backend-gates.load]")
    for line, note in lines:
        text.line(line, note)


def _listed(items: list[str], shown: int = 5) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
