"""A Django service through pytest-django: the gates' requests reach the test database.

pytest-django refuses database access outside `django_db` tests, so before the gate
items were such tests a correct Django service answered 500 ("Database access not
allowed") to every in-process request of the gates (issue 11)."""

from __future__ import annotations

import textwrap

import pytest
from conftest import gate, read_report

pytest.importorskip("django")
pytest.importorskip("pytest_django")

SETTINGS = '''
SECRET_KEY = "not-a-secret-test-key-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
MIDDLEWARE = []
ROOT_URLCONF = "proj.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "proj.sqlite3"}}
USE_TZ = True
'''

URLS = '''
import re

from django.contrib.auth.models import Group
from django.http import Http404, JsonResponse
from django.urls import path
from django.views.decorators.http import require_http_methods


@require_http_methods(["GET", "POST"])
def groups(request):
    if request.method == "POST":
        name = request.GET.get("name", "team")
        if not re.fullmatch("[a-z]{1,20}", name):
            return JsonResponse({"detail": "name: 1 to 20 lowercase letters"}, status=400)
        group, _ = Group.objects.get_or_create(name=name)
        return JsonResponse({"id": group.id, "name": group.name}, status=201)
    return JsonResponse({"count": Group.objects.count()})


@require_http_methods(["GET"])
def one_group(request, group_id):
    group = Group.objects.filter(id=group_id).first()
    if group is None:
        raise Http404("no such group")
    return JsonResponse({"id": group.id, "name": group.name})


urlpatterns = [path("groups", groups), path("groups/<int:group_id>", one_group)]
'''

WSGI = '''
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
'''

SCHEMA = '''
openapi: 3.0.3
info: {title: groups, version: "1"}
paths:
  /groups:
    get:
      responses:
        "200": {description: the number of groups}
    post:
      parameters:
        - {name: name, in: query, required: false, schema: {type: string, pattern: "^[a-z]{1,20}$"}}
      responses:
        "201": {description: created}
        "400": {description: a name that is not 1 to 20 lowercase letters}
  /groups/{group_id}:
    get:
      parameters:
        - {name: group_id, in: path, required: true, schema: {type: integer, minimum: 1, maximum: 1000000}}
      responses:
        "200": {description: the group}
        "404": {description: no such group}
'''


def test_gate_items_and_the_api_fixture_reach_the_test_database(pytester: pytest.Pytester) -> None:
    package = pytester.mkpydir("proj")
    (package / "settings.py").write_text(SETTINGS)
    (package / "urls.py").write_text(URLS)
    (package / "wsgi.py").write_text(WSGI)
    (pytester.path / "openapi.yaml").write_text(SCHEMA)
    pytester.makepyfile(test_groups='''
        import pytest

        @pytest.mark.django_db
        def test_groups(api):
            assert api.post("/groups?name=admins").status_code == 201
            assert api.get("/groups").json() == {"count": 1}
    ''')
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        DJANGO_SETTINGS_MODULE = "proj.settings"
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "proj.wsgi:application"
        schema = "openapi.yaml"
        max_examples = 10
        stateful = false
        [tool.backend-gates.security]
        required_headers = []
        [tool.backend-gates.coverage]
        source = ["proj"]
        # pytest-django's django.setup() imports the settings before any test: measured only
        # when the gates start first (they were 0% covered).
        files = { "proj/settings.py" = 100 }
        [tool.backend-gates.latency]
        samples = 10
        budgets = { "GET /groups" = "p95 < 5s" }   # timed before any test: a test database of its own
    """))
    result = pytester.runpytest_subprocess("--backend-gates", "-p", "no:cacheprovider")
    output = result.stdout.str()
    assert "Database access not allowed" not in output
    assert result.ret == 0, output
    contract = gate(read_report(pytester), "contract")
    assert contract["status"] == "passed", contract
    assert gate(read_report(pytester), "coverage")["status"] == "passed"
    latency = gate(read_report(pytester), "latency")
    assert latency["status"] == "passed", latency
    assert not [w for w in contract["warnings"] if "GET /groups never answered 2xx" in w]
    # The real database file was never touched: the test database was.
    assert not (pytester.path / "proj.sqlite3").exists()
