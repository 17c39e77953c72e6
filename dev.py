#!/usr/bin/env python3
"""The quick start, with nothing but Python installed:

    python3 dev.py demo   # the main job: `pytest --backend-gates` on the bundled example app
    python3 dev.py test   # the layout's import contracts (lint-imports), then the test suite (what .ci/run runs)
    python3 dev.py bench  # the benchmarks in benchmarks/

Each command creates `.venv` and installs what it needs on first use.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".dev-installed"
EXAMPLE = ROOT / "examples" / "shop"


def ensure_environment() -> None:
    """Create .venv and install the plugin with its dev extra, again whenever pyproject.toml changes."""
    wanted = hashlib.sha256(
        b"".join(p.read_bytes() for p in (ROOT / "pyproject.toml", EXAMPLE / "pyproject.toml"))
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print("installing pytest-backend-gates[dev,load,stacks] and the example's requirements", flush=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev,load,stacks]", "-e", str(EXAMPLE)], check=True)
    STAMP.write_text(wanted)


def run(args: list[str], cwd: Path) -> int:
    print("$", " ".join(args), flush=True)
    return subprocess.run(args, cwd=cwd).returncode


def main(argv: list[str]) -> int:
    command, *extra = argv or ["help"]
    if command == "demo":
        ensure_environment()
        return run([str(PYTHON), "-m", "pytest", "--backend-gates", *extra], cwd=EXAMPLE)
    if command == "test":
        ensure_environment()
        # The layout's contracts first (pyproject.toml [tool.importlinter]): a gate importing
        # another gate, or a layer importing upward, fails before any test runs.
        status = run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT)
        return status or run([str(PYTHON), "-m", "pytest", "-n", "2", *extra], cwd=ROOT)
    if command == "bench":
        ensure_environment()
        status = 0
        for script in sorted((ROOT / "benchmarks").glob("*.py")):
            status |= run([str(PYTHON), str(script), *extra], cwd=ROOT)
        return status
    print(__doc__)
    return 0 if command == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
