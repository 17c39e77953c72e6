"""`pytest --backend-gates-init`: a starting configuration found from the project's source.

On every bundled example and on the five stacks (copied without their [tool.backend-gates]),
the printed configuration names the right app and schema, writes nothing, loads with the
plugin's own parser, and runs as it is: the contract items of every operation are collected,
and on two projects a real run of the gates passes. Synthetic projects cover the frameworks
and layouts the examples do not, that nothing of the project is imported, and that a secret
in the source or the environment is never printed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pytest_backend_gates.config import parse_section
from pytest_backend_gates.gates import registry

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 300  # seconds, one pytest run on a loaded 2-core machine

# example -> (app, schema) the scaffold must find; None: no app in it. Projects with their own
# configuration are checked against it (below); the flat folders hold several apps, and the
# scaffold proposes the first by module name, with its schema (a Flask app: the folder's YAML).
FLAT_EXAMPLES: dict[str, tuple[str, str] | None] = {
    "contract": ("bookmarks_buggy:app", "/openapi.json"),
    "identities": ("accounts_app:app", "/openapi.json"),
    "latency": ("catalog_fast:app", "/openapi.json"),
    "load": ("catalog_buggy:app", "/openapi.json"),
    "queries": ("library_buggy:app", "/openapi.json"),
    "race": ("wallet_flask_buggy:app", "wallet_openapi.yaml"),
    "realworld": ("storefront_api:app", "/openapi.json"),
    "security": ("notes_flask_buggy:app", "notes_flask_openapi.yaml"),
    "validation": None,
}
CONFIGURED_EXAMPLES = ["shop", *(f"stacks/{p.parent.name}" for p in sorted((EXAMPLES / "stacks").glob("*/expected.toml")))]


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names
            if name.startswith(("stack.db", "test_stack.db", "backend-gates.json", ".hypothesis", ".coverage"))
            or name in ("__pycache__", ".pytest_cache", ".benchmarks", ".backend-gates")
            or name.endswith(".egg-info")}


def without_gates_section(text: str) -> str:
    """pyproject.toml text without its [tool.backend-gates...] tables (other tables kept)."""
    kept, inside = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            inside = re.match(r"^\s*\[\[?\s*tool\.backend-gates\b", line) is not None
        if not inside:
            kept.append(line)
    return "\n".join(kept) + "\n"


def copy_example(name: str, where: Path) -> Path:
    """examples/<name> in `where`, without its gates configuration (a flat folder gets the
    pyproject.toml its tests use: the folder importable)."""
    project = where / name.replace("/", "-")
    shutil.copytree(EXAMPLES / name, project, ignore=_ignore)
    pyproject = project / "pyproject.toml"
    if pyproject.exists():
        pyproject.write_text(without_gates_section(pyproject.read_text()))
    else:
        pyproject.write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    assert "backend-gates" not in tomllib.loads(pyproject.read_text()).get("tool", {})
    return project


def listing(project: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `project`: (mtime in ns, size)."""
    return {path.relative_to(project).as_posix(): (path.stat().st_mtime_ns, path.stat().st_size)
            for path in sorted(project.rglob("*"))}


def run_pytest(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=project,
                          env=env or {**os.environ}, capture_output=True, text=True, timeout=TIMEOUT)


def stack_env() -> tuple[dict[str, str], list[str]]:
    """What the stacks read (their signing key, the seeded password), as fresh secrets, and no
    bytecode files (pytest-django imports a Django project's settings at start-up)."""
    secret, password = secrets.token_hex(24), secrets.token_urlsafe(18)
    env = {**os.environ, "STACK_SECRET_KEY": secret, "STACK_PASSWORD": password, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("STACK_DEFECTS", None)
    return env, [secret, password]


def loads_with_the_plugins_parser(text: str, project: Path) -> dict[str, Any]:
    """The printed text as TOML, checked by the parser a run uses (every key known, every value
    allowed); the [tool.backend-gates] section as a dict."""
    section = tomllib.loads(text)["tool"]["backend-gates"]
    parse_section(section, project / "pyproject.toml", registry.table_parsers(), environ={})
    return section


def init(project: Path, env: dict[str, str] | None = None, *args: str) -> str:
    before = listing(project)
    done = run_pytest(project, "--backend-gates-init", *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert listing(project) == before, "--backend-gates-init wrote to the project"
    return done.stdout


def said(text: str, words: str) -> bool:
    """Whether the comments of `text` say `words`, wherever their lines were wrapped."""
    def flat(value: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"(^|\n)#\s*", " ", value)).strip()
    return flat(words) in flat(text)


# --------------------------------------------------------------------------
# Every bundled example and stack: found, written nowhere, run as it is
# --------------------------------------------------------------------------


@pytest.mark.parametrize("example", [*CONFIGURED_EXAMPLES, *FLAT_EXAMPLES])
def test_each_example_gets_a_configuration_that_runs_as_is(example: str, tmp_path: Path) -> None:
    project = copy_example(example, tmp_path)
    env, hidden = stack_env()
    text = init(project, env)
    assert not [s for s in hidden if s in text]
    section = loads_with_the_plugins_parser(text, project)

    if example in FLAT_EXAMPLES:
        expected = FLAT_EXAMPLES[example]
    else:
        original = tomllib.loads((EXAMPLES / example / "pyproject.toml").read_text())
        table = original["tool"]["backend-gates"]["contract"]
        expected = (table["app"], table.get("schema", "/openapi.json"))
    if expected is None:
        assert "contract" not in section and "security" not in section and "race" not in section
        assert said(text, "No application object was found")
    else:
        assert (section["contract"]["app"], section["contract"]["schema"]) == expected
        assert "security" in section and section["coverage"]["source"], text
        # The automatic race probe needs requests that succeed: behind a login, only with an identity.
        behind_login = said(text, "The app authenticates:")
        assert section.get("race", {}).get("auto") is (None if behind_login else True), text
        assert behind_login is (example.startswith("stacks/") or example in ("identities", "realworld", "security"))

    # Pasted under what the project has, the configuration runs: the app imports, the schema
    # loads, and every operation becomes a gate item.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n" + text)
    done = run_pytest(project, "--backend-gates", "--collect-only", "-q", env=env)
    output = done.stdout + done.stderr
    assert not [s for s in hidden if s in output]
    assert "backend-gates configuration" not in output and "Traceback" not in output, output[-4000:]
    if expected is None:
        assert done.returncode in (0, 5), output[-4000:]  # 5: the folder has no tests to collect
    else:
        assert done.returncode == 0, output[-4000:]
        assert "backend-gates::contract[stateful]" in output, output[-4000:]
        assert re.search(r"backend-gates::contract\[[A-Z]+ /", output), output[-4000:]


def test_shop_runs_the_gates_of_the_printed_configuration(tmp_path: Path) -> None:
    project = copy_example("shop", tmp_path)
    text = init(project)
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n" + text)
    # The gates that judge the app itself; load and race auto are exercised in their own tests.
    done = run_pytest(project, "--backend-gates=contract,security,coverage,queries", "-q",
                      env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout[-6000:]
    report = json.loads((project / "backend-gates.json").read_text())
    statuses = {g["gate"]: g["status"] for g in report["gates"]}
    assert statuses == dict.fromkeys(("contract", "security", "coverage", "queries"), "passed"), statuses
    measured = {g["gate"]: g["measured"] for g in report["gates"]}
    assert measured["contract"]["cases"] > 0 and measured["queries"]["request_statements"] > 0


def test_a_stack_behind_a_login_runs_and_is_told_about_identities(tmp_path: Path) -> None:
    project = copy_example("stacks/flask_smorest", tmp_path)
    env, hidden = stack_env()
    text = init(project, env)
    # No credentials can be found in the source: the identity is a commented template with the
    # service's own login operation, and the logout (which revokes the token) is named.
    assert '# login = { operation = "POST /login", json = {' in text
    assert said(text, "flask-jwt-extended") and '# exclude_operations = ["POST /*logout*"]' in text
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n" + text)
    done = run_pytest(project, "--backend-gates=contract", "-k", "backend-gates", "-q", env=env)
    assert not [s for s in hidden if s in done.stdout + done.stderr]
    report = json.loads((project / "backend-gates.json").read_text())
    contract = report["gates"][0]
    assert contract["status"] == "passed", done.stdout[-6000:]
    assert contract["measured"]["cases"] > 0
    assert any("401" in warning for warning in contract["warnings"]), contract["warnings"]


# --------------------------------------------------------------------------
# Reading, never running; an existing section; nothing found
# --------------------------------------------------------------------------

SIDE_EFFECT = 'import pathlib; pathlib.Path(__file__).with_name("IMPORTED-{name}").write_text("x")\n'


def test_nothing_of_the_project_is_imported_or_written(tmp_path: Path) -> None:
    # Bytecode files are allowed here: an import of any project file would leave one.
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (tmp_path / "conftest.py").write_text(SIDE_EFFECT.format(name="conftest") + "raise SystemExit(3)\n")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "__init__.py").write_text(SIDE_EFFECT.format(name="package"))
    (tmp_path / "svc" / "main.py").write_text(SIDE_EFFECT.format(name="main") + textwrap.dedent("""
        from fastapi import FastAPI
        raise RuntimeError("importing the app connects to the production database")
        app = FastAPI(openapi_url="/api/schema.json")
    """))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(SIDE_EFFECT.format(name="tests") + "raise SystemExit(3)\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    text = init(tmp_path, env)
    assert not list(tmp_path.rglob("IMPORTED-*")) and not list(tmp_path.rglob("__pycache__"))
    section = loads_with_the_plugins_parser(text, tmp_path)
    assert section["contract"] == {"app": "svc.main:app", "schema": "/api/schema.json", "max_examples": 25,
                                   "max_time": "300s"}
    assert said(text, "found: FastAPI app (ASGI) in svc/main.py line 5: app = FastAPI(...)")


def test_an_existing_section_is_named_checked_and_left_alone(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    shutil.copytree(EXAMPLES / "shop", project, ignore=_ignore)
    original = (project / "pyproject.toml").read_bytes()
    line = original.decode().splitlines().index("[tool.backend-gates]") + 1
    text = init(project)
    assert said(text, f"NOTE: pyproject.toml already has a [tool.backend-gates] section (line {line}).")
    assert said(text, "The section there loads without problems.")
    assert (project / "pyproject.toml").read_bytes() == original

    # A broken one is no obstacle, also with --backend-gates on the same command line: the
    # problems are listed, as a run would print them.
    (project / "pyproject.toml").write_text(original.decode() + '\n[tool.backend-gates.contrct]\nap = "x"\n')
    text = init(project, None, "--backend-gates")
    assert said(text, "The section there has 1 problem (as the built-in gates read it):")
    assert said(text, "did you mean 'contract'?")
    loads_with_the_plugins_parser(text, project)


def test_a_project_where_nothing_is_found_gets_a_minimal_configuration_that_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one():\n    assert True\n")
    pytester.makepyprojecttoml("")
    result = pytester.runpytest_subprocess("--backend-gates-init", "-p", "no:cacheprovider")
    assert result.ret == 0
    text = result.stdout.str()
    section = loads_with_the_plugins_parser(text, pytester.path)
    assert section == {"report": "backend-gates.json"}
    assert said(text, "No application object was found") and '# app = "yourpackage.main:app"' in text
    assert said(text, "No source package found to measure")
    assert said(text, "Tests: the rootdir (folders holding test modules; no testpaths in the pytest configuration).")
    pytester.makepyprojecttoml(text)
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    assert json.loads((pytester.path / "backend-gates.json").read_text())["passed"] is True


# --------------------------------------------------------------------------
# Frameworks and layouts the examples do not cover
# --------------------------------------------------------------------------

OPENAPI_YAML = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n"
DJANGO_SETTINGS = """
ROOT_URLCONF = "site_config.urls"
WSGI_APPLICATION = "site_config.wsgi.application"
INSTALLED_APPS = ["django.contrib.auth", "rest_framework", "rest_framework.authtoken", "drf_yasg", "library"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "library", "PASSWORD": "pg-s3cret-pw"}}
"""
DJANGO_URLS = """
from django.urls import include, path, re_path
from drf_yasg.views import get_schema_view
schema_view = get_schema_view(public=True)
urlpatterns = [path("api/", include("library.urls"))]
"""
LIBRARY_URLS = """
from django.urls import path, re_path
from site_config.urls import schema_view
urlpatterns = [
    re_path(r"^swagger(?P<format>\\.json|\\.yaml)$", schema_view.without_ui(cache_timeout=0)),
    path("auth/logout/", lambda request: None),
]
"""

FRAMEWORK_CASES: dict[str, tuple[dict[str, str], dict[str, Any] | None, list[str]]] = {
    # name: (files, the contract table expected (None: none enabled), lines the output has)
    "starlette and a document in docs/": (
        {"api/__init__.py": "", "api/app.py": "from starlette.applications import Starlette\napp = Starlette()\n",
         "docs/openapi.yaml": OPENAPI_YAML},
        {"app": "api.app:app", "schema": "docs/openapi.yaml"},
        ["# schema: docs/openapi.yaml: docs/openapi.yaml, the OpenAPI document in the repository "
         "(Starlette serves no schema by itself)"]),
    "FastAPI with openapi_url=None": (
        {"svc.py": "from fastapi import FastAPI\napp = FastAPI(openapi_url=None)\n"},
        None,
        ["# schema: not found: openapi_url=None: the app serves no schema", '# app = "svc:app"']),
    "a Flask factory that needs no argument": (
        {"web/__init__.py": "", "web/factory.py": textwrap.dedent("""
            import flask
            def build(settings):  # needs an argument: not a candidate
                return flask.Flask("x")
            def make_app(config=None):
                application = flask.Flask(__name__)
                return application
            """), "openapi.json": '{"openapi": "3.0.0", "info": {}, "paths": {}}'},
        {"app": "web.factory:make_app()", "schema": "openapi.json"},
        ["# found: Flask app (WSGI) in web/factory.py line 5: factory make_app(), built at web/factory.py line 6"]),
    "src layout, FastAPI with root_path, not on pythonpath": (
        {"src/shop/__init__.py": "", "src/shop/api.py": 'from fastapi import FastAPI\napp = FastAPI(root_path="/v1")\n'},
        {"app": "shop.api:app", "schema": "/openapi.json"},
        ['# pytest imports shop.api from "src": put pythonpath = ["src"] in [tool.pytest.ini_options] '
         "(or install the project)", "# note: root_path='/v1': in-process requests reach the routes without it, ",
         'source = ["src/shop"]']),
    "a FastAPI app mounting another": (
        {"main.py": 'from fastapi import FastAPI\napp = FastAPI()\nv2 = FastAPI(openapi_url="/spec.json")\n'
                    'app.mount("/v2", v2)\n'},
        {"app": "main:app", "schema": "/openapi.json"},
        ["# other apps found (app may name one instead): main:v2 (FastAPI, main.py line 3)"]),
    "Connexion 2 with a Swagger 2.0 document and base_path": (
        {"pets/__init__.py": "", "pets/server.py": 'import connexion\napp = connexion.App(__name__)\n'
                                                   'app.add_api("swagger.yaml", base_path="/v1")\n',
         "pets/swagger.yaml": "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n"},
        {"app": "pets.server:app", "schema": "/v1/swagger.json"},
        ["# schema: /v1/swagger.json: Connexion serves add_api's pets/swagger.yaml under the base path '/v1'"]),
    "Litestar with its OpenAPI path": (
        {"service.py": "from litestar import Litestar\nfrom litestar.openapi import OpenAPIConfig\n"
                       'app = Litestar([], openapi_config=OpenAPIConfig(title="t", version="1", path="/docs"))\n'},
        {"app": "service:app", "schema": "/docs/openapi.json"}, []),
    "no Python 3, and folders that hold no project code": (
        {"old.py": 'print "python 2"\n', "node_modules/tool/app.py": "from fastapi import FastAPI\napp = FastAPI()\n",
         "venv/lib/app.py": "from flask import Flask\napp = Flask(__name__)\n",
         "env2/pyvenv.cfg": "home = /usr/bin\n", "env2/app.py": "from flask import Flask\napp = Flask(__name__)\n",
         "lib/__init__.py": "", "lib/core.py": "x = 1\n"},
        None,
        ["Not valid Python 3, skipped: old.py.", "No application object was found", 'source = ["lib"]']),
    "flask-smorest without OPENAPI_URL_PREFIX": (
        {"store.py": "from flask import Flask\nfrom flask_smorest import Api\napp = Flask(__name__)\napi = Api(app)\n"},
        None,
        ["serves the schema only with OPENAPI_URL_PREFIX set"]),
    "Django, DRF and drf-yasg through include()": (
        {"manage.py": 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")\n',
         "site_config/__init__.py": "", "site_config/settings.py": DJANGO_SETTINGS,
         "site_config/urls.py": DJANGO_URLS,
         "site_config/asgi.py": "from django.core.asgi import get_asgi_application\napplication = get_asgi_application()\n",
         "site_config/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
         "library/__init__.py": "", "library/urls.py": LIBRARY_URLS},
        {"app": "site_config.wsgi:application", "schema": "/api/swagger.json"},
        ["# schema: /api/swagger.json: drf-yasg view in library/urls.py line 5",
         '# pytest-django needs DJANGO_SETTINGS_MODULE = "site_config.settings" in [tool.pytest.ini_options]',
         "ENGINE django.db.backends.postgresql, NAME 'library'", 'source = ["library", "site_config"]',
         'token = "token", prefix = "Token " }', '# exclude_operations = ["POST /*logout*"]']),
}


@pytest.mark.parametrize("case", FRAMEWORK_CASES)
def test_frameworks_and_layouts(case: str, pytester: pytest.Pytester) -> None:
    files, contract, lines = FRAMEWORK_CASES[case]
    for name, content in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    # Nothing is imported: frameworks that are not installed here (Litestar, drf-yasg) are found too.
    result = pytester.runpytest("--backend-gates-init", "-p", "no:cacheprovider")
    assert result.ret == 0
    text = result.stdout.str()
    section = loads_with_the_plugins_parser(text, pytester.path)
    if contract is None:
        assert "contract" not in section and "security" not in section, text
    else:
        assert {key: section["contract"][key] for key in contract} == contract, text
    missing = [line for line in lines if not said(text, line)]
    assert not missing, text


def test_credentials_in_the_source_and_values_of_the_environment_are_never_printed(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://svc:env-s3cret-value@10.0.0.5/prod")
    pytester.makepyfile(**{"svc/__init__.py": "", "svc/db.py": textwrap.dedent("""
        import os
        from sqlalchemy import create_engine
        engine = create_engine(os.environ.get("DATABASE_URL", "postgresql://app:s3cr3t-pw-123@db.internal/app"))
        """), "svc/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"})
    result = pytester.runpytest("--backend-gates-init", "-p", "no:cacheprovider")
    text = result.stdout.str()
    assert result.ret == 0
    assert "s3cr3t-pw-123" not in text and "env-s3cret-value" not in text
    assert said(text, "URL postgresql://app:***@db.internal/app (svc/db.py line 3)")
    assert said(text, "from the environment: DATABASE_URL (svc/db.py line 3)")
    assert said(text, "create_engine(os.environ.get('DATABASE_URL', 'postgresql://app:***@db.internal/app'))")
    section = loads_with_the_plugins_parser(text, pytester.path)
    assert section["queries"] == {"max_per_request": 30, "max_repeats": 5}
