"""The layout as checked contracts (pyproject.toml [tool.importlinter]): layers import downward
(wiring -> run -> gates -> service -> core) and a gate never imports another gate. The
contracts pass on the package, and they do fail when a gate imports another or the service
layer imports a gate (shown here on a copy of the package with one import added)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_backend_gates"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: install the dev extra (import-linter)"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def contracts_only(source: Path) -> str:
    """The [tool.importlinter] section of pyproject.toml, alone (the copy has no project to build)."""
    text = source.read_text()
    start = text.index("[tool.importlinter]")
    end = text.find("\n[tool.", start + 1)
    while end != -1 and text[end + 1:].startswith("[tool.importlinter"):
        end = text.find("\n[tool.", end + 1)
    section = text[start:] if end == -1 else text[start:end]
    tomllib.loads(section)  # it stands alone
    return section


def copy_with_import(tmp_path: Path, module: str, line: str) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "pytest_backend_gates", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pyproject.toml").write_text(contracts_only(ROOT / "pyproject.toml"))
    target = tmp_path / "pytest_backend_gates" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return tmp_path


def test_the_package_keeps_its_layout_contracts() -> None:
    done = lint_imports(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_a_gate_importing_another_gate_breaks_the_contract(tmp_path: Path) -> None:
    project = copy_with_import(tmp_path, "gates/race/gate.py",
                               "from pytest_backend_gates.gates.security import gate as _security  # noqa")
    done = lint_imports(project, project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "A gate never imports another gate BROKEN" in done.stdout
    assert "pytest_backend_gates.gates.race is not allowed to import" in " ".join(done.stdout.split())


@pytest.mark.parametrize("module, line", [
    ("service/client.py", "from pytest_backend_gates.gates.contract import gate as _contract  # noqa"),
    ("gates/load/gate.py", "from pytest_backend_gates import run as _run  # noqa"),
    ("settings.py", "from pytest_backend_gates.service import target as _target  # noqa"),
], ids=["service imports a gate", "gate imports the run", "core imports the service"])
def test_an_upward_import_breaks_the_layers(tmp_path: Path, module: str, line: str) -> None:
    project = copy_with_import(tmp_path, module, line)
    done = lint_imports(project, project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Layers import downward: wiring -> run -> gates -> service -> core BROKEN" in done.stdout


MAX_MODULE_LINES = 400


def test_no_module_is_past_the_size_a_reader_takes_in_at_once() -> None:
    """Issue 13: a module past ~400 lines is two modules (name the parts for what they are)."""
    too_long = {str(path.relative_to(ROOT)): lines for path in sorted(PACKAGE.rglob("*.py"))
                if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
