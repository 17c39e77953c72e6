from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# Imported once for the whole process, before any in-process pytester run. pytester drops the
# modules a run imported; a library whose top module outlived the run keeps what it cached of
# the dropped ones (pydantic stores lazily imported names in its own globals), so a later run
# mixes two copies: a TypeAdapter that no longer recognises annotated-types' Ge/Le (an
# `Annotated[int, Ge(0)]` oracle accepted -1), a FastAPI schema without its bounds. Loading them
# whole here keeps every run on one copy.
for _library in ("annotated_types", "pydantic", "pydantic.type_adapter", "pydantic.networks", "fastapi",
                 "fastapi.security", "fastapi.responses", "fastapi.openapi.utils"):
    try:
        __import__(_library)
    except ImportError:  # an optional stack library that is not installed
        pass
try:
    from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError  # noqa: F401 - resolves pydantic's lazy names now
except ImportError:
    pass

# A small project under test: a package with branches, and tests whose reach
# the tests below vary to move coverage up and down.
APP_CALC = '''
RATE = 0.2  # module-level code: counted because measuring starts before collection


def tax(amount):
    if amount < 0:
        raise ValueError("negative amount")
    return amount * RATE


def discount(amount, code):
    if code == "HALF":
        return amount / 2
    if code == "TENOFF":
        return max(amount - 10, 0)
    return amount
'''

APP_AUTH = '''
def check_password(given, stored):
    if not given:
        return False
    if len(given) != len(stored):
        return False
    return given == stored
'''

TESTS_PARTIAL = '''
from app import calc, auth


def test_tax():
    assert calc.tax(10) == 2


def test_password_empty():
    assert not auth.check_password("", "x")
'''

TESTS_FULL = '''
import pytest
from app import calc, auth


def test_tax():
    assert calc.tax(10) == 2
    with pytest.raises(ValueError):
        calc.tax(-1)


@pytest.mark.parametrize("code, expected", [("HALF", 50), ("TENOFF", 90), ("NONE", 100)])
def test_discount(code, expected):
    assert calc.discount(100, code) == expected


@pytest.mark.parametrize("given, ok", [("", False), ("ab", False), ("abc", True), ("abd", False)])
def test_password(given, ok):
    assert auth.check_password(given, "abc") is ok
'''


def make_app(pytester: pytest.Pytester, gates_toml: str, tests: str = TESTS_PARTIAL) -> None:
    """The example project: `app/` package, `test_app.py`, and `gates_toml` under [tool.backend-gates]."""
    pytester.makepyprojecttoml(textwrap.dedent(gates_toml))
    pkg = pytester.mkpydir("app")
    (pkg / "calc.py").write_text(APP_CALC)
    (pkg / "auth.py").write_text(APP_AUTH)
    pytester.makepyfile(test_app=tests)


def read_report(pytester: pytest.Pytester, name: str = "gates.json") -> dict[str, Any]:
    return json.loads(Path(pytester.path, name).read_text())


def gate(report: dict[str, Any], name: str) -> dict[str, Any]:
    matching = [g for g in report["gates"] if g["gate"] == name]
    assert len(matching) == 1, report
    return matching[0]


@pytest.fixture
def hypothesis_profile() -> Iterator[Any]:
    """`hypothesis_profile(derandomize=False)` loads a profile for this test only.

    Hypothesis loads its "ci" profile (derandomize=True) by itself when CI is set, so a test
    that depends on the mode sets it, and the profile loaded before comes back afterwards
    (a loaded profile is process-wide state shared with in-process pytester runs)."""
    from hypothesis import settings

    previous = settings.get_current_profile_name()

    def load(**options: Any) -> None:
        settings.register_profile("backend-gates-test", parent=settings.get_profile(previous), **options)
        settings.load_profile("backend-gates-test")

    try:
        yield load
    finally:
        settings.load_profile(previous)


COVERAGE_SOURCE_ONLY = """
[tool.backend-gates]
report = "gates.json"

[tool.backend-gates.coverage]
source = ["app"]
total = 10
"""


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_files(pytester: pytest.Pytester, folder: str, table: str = "") -> None:
    """The modules and schemas of examples/<folder>, importable, and a pyproject.toml with the
    JSON report on plus `table` (more [tool.backend-gates...] TOML)."""
    for source in [*(EXAMPLES / folder).glob("*.py"), *(EXAMPLES / folder).glob("*.yaml")]:
        shutil.copy(source, pytester.path / source.name)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
    """) + textwrap.dedent(table))


def example_project(pytester: pytest.Pytester, folder: str, module: str, schema: str | None = None,
                    extra: str = "") -> None:
    """A bundled example app (examples/<folder>) with the contract gate on `module:app`."""
    for source in [*(EXAMPLES / folder).glob("*.py"), *(EXAMPLES / folder).glob("*.yaml")]:
        shutil.copy(source, pytester.path / source.name)
    pytester.makepyprojecttoml(textwrap.dedent(f"""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "{module}:app"
    """) + (f'schema = "{schema}"\n' if schema else "") + textwrap.dedent(extra))


@contextmanager
def served_by_uvicorn(cwd: Path, app: str) -> Iterator[str]:
    """`app` ("module:attr" importable from cwd) behind uvicorn on a free loopback port; its base URL.
    Stopped on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not start within 20 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
