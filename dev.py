#!/usr/bin/env python3
"""The quick start, with nothing but Python installed:

    python3 dev.py demo            # the main job: `pytest --backend-gates` on the bundled example app
    python3 dev.py demo --broken   # the same gates on its broken twin: one seeded defect per gate
    python3 dev.py test            # the layout's import contracts (lint-imports), the docs site (mkdocs build
                                   # --strict), then the test suite (what .ci/run runs)
    python3 dev.py docs            # the documentation site into site/ (`python3 dev.py docs serve`: live preview)
    python3 dev.py bench           # the benchmarks in benchmarks/

Each command creates `.venv` and installs what it needs on first use.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".dev-installed"
EXAMPLE = ROOT / "examples" / "shop"


def ensure_environment() -> None:
    """Create .venv and install the plugin with its extras, again whenever pyproject.toml changes."""
    wanted = hashlib.sha256(
        b"".join(p.read_bytes() for p in (ROOT / "pyproject.toml", EXAMPLE / "pyproject.toml"))
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print("installing pytest-backend-gates[dev,load,stacks,docs] and the example's requirements", flush=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev,load,stacks,docs]", "-e", str(EXAMPLE)], check=True)
    STAMP.write_text(wanted)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, shown: str = "") -> int:
    print("$", shown + " ".join(args), flush=True)
    return subprocess.run(args, cwd=cwd, env=env).returncode


def demo(extra: list[str]) -> int:
    """`pytest --backend-gates` on examples/shop, every gate, with the HTML report; `--broken`: on its
    broken twin (SHOP_DEFECTS=1, see examples/shop/README.md), where every gate must fail."""
    broken = "--broken" in extra
    extra = [arg for arg in extra if arg != "--broken"]
    env = {key: value for key, value in os.environ.items() if key != "SHOP_DEFECTS"}
    if broken:
        env["SHOP_DEFECTS"] = "1"
        print("the broken twin of examples/shop: one seeded defect per gate, each must be caught "
              "(exit status 1)", flush=True)
    html = EXAMPLE / "backend-gates.html"
    html.unlink(missing_ok=True)  # a report from an earlier run must not pass for this one's
    status = run([str(PYTHON), "-m", "pytest", "--backend-gates", f"--backend-gates-html={html.name}", *extra],
                 cwd=EXAMPLE, env=env, shown="SHOP_DEFECTS=1 " if broken else "")
    if html.exists():
        print(f"HTML report: {html}", flush=True)
    return status


def mkdocs(*args: str) -> int:
    """mkdocs from .venv (mkdocs.yml: strict, nothing fetched). The theme's banner about MkDocs 2
    is switched off: it is news, not a warning about this site."""
    print("$ mkdocs", " ".join(args), flush=True)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([str(PYTHON), "-m", "mkdocs", *args], cwd=ROOT, env=env).returncode


def build_docs() -> int:
    """`mkdocs build --strict` into a temporary folder: a warning (a broken link or anchor, an
    included file that is missing, a page left out of the nav) fails; no site/ is left behind."""
    with tempfile.TemporaryDirectory(prefix="backend-gates-site-") as site:
        return mkdocs("build", "--strict", "--quiet", "--site-dir", site)


def main(argv: list[str]) -> int:
    command, *extra = argv or ["help"]
    if command == "demo":
        ensure_environment()
        return demo(extra)
    if command == "test":
        ensure_environment()
        # The layout's contracts first (pyproject.toml [tool.importlinter]): a gate importing
        # another gate, or a layer importing upward, fails before any test runs.
        status = run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT)
        # Then the documentation site, strict: its pages include the files the tests run.
        status = status or build_docs()
        return status or run([str(PYTHON), "-m", "pytest", "-n", "2", *extra], cwd=ROOT)
    if command == "docs":
        ensure_environment()
        if extra[:1] == ["serve"]:
            return mkdocs(*extra)
        return mkdocs("build", "--strict", *extra)
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
