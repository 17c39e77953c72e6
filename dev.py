#!/usr/bin/env python3
"""The quick start, with nothing but Python installed:

    python3 dev.py demo            # the main job: `pytest --backend-gates` on the bundled example app
    python3 dev.py demo --broken   # the same gates on its broken twin: one seeded defect per gate
    python3 dev.py test            # the layout's import contracts (lint-imports), the docs site (mkdocs build
                                   # --strict), then the test suite (what .ci/run runs)
    python3 dev.py docs            # the documentation site into site/ (`python3 dev.py docs serve`: live preview)
    python3 dev.py bench           # every benchmark in benchmarks/, then docs/benchmarks.md from their figures
                                   #   --quick: each one's smallest settings (development; the file says so)
                                   #   --only NAME ...: those benchmarks alone (--output elsewhere: the doc wants all)

Each command creates `.venv` and installs what it needs on first use.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import shlex
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


def benchmarks() -> list[Path]:
    """The benchmark scripts: benchmarks/*.py, without the helpers (`_*.py`)."""
    return sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))


def bench(argv: list[str]) -> int:
    """Run every benchmark with --json, then write docs/benchmarks.md from what they measured."""
    parser = argparse.ArgumentParser(prog="python3 dev.py bench", description="run the benchmarks, regenerate "
                                     "docs/benchmarks.md from their figures")
    parser.add_argument("--quick", action="store_true", help="each benchmark's smallest settings (development)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these benchmarks (script names, no .py)")
    parser.add_argument("--output", type=Path, help="default: docs/benchmarks.md (not with --only: it carries all)")
    parser.add_argument("--json-dir", type=Path, help="keep each benchmark's JSON there (default: a temporary dir)")
    args = parser.parse_args(argv)
    scripts = [s for s in benchmarks() if not args.only or s.stem in args.only]
    unknown = sorted(set(args.only or ()) - {s.stem for s in scripts})
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; there are {', '.join(s.stem for s in benchmarks())}")
    if args.only and args.output is None:
        parser.error("--only needs --output: docs/benchmarks.md carries every benchmark")
    args.output = args.output or ROOT / "docs" / "benchmarks.md"
    spec = importlib.util.spec_from_file_location("_report", ROOT / "benchmarks" / "_report.py")
    assert spec is not None and spec.loader is not None
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    results: list[dict[str, object]] = []
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-json-") as tmp:
        folder = args.json_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for script in scripts:
            out = folder / f"{script.stem}.json"
            out.unlink(missing_ok=True)  # never a previous run's figures
            status = run([str(PYTHON), str(script.relative_to(ROOT)), *(["--quick"] if args.quick else []),
                          "--json", str(out)], cwd=ROOT)
            # A benchmark may exit 1 for a missed target and still have measured: its JSON says so.
            if out.exists():
                results.append(json.loads(out.read_text()))
            else:
                failed[script.stem] = f"it exited with status {status} and wrote no figures"
    argv_shown = ["python3", "dev.py", "bench", *argv]
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.render(results, command=shlex.join(argv_shown), generated=generated, failed=failed))
    print(f"wrote {args.output} ({len(results)} benchmarks" + (f", {len(failed)} without figures: "
                                                            f"{', '.join(failed)}" if failed else "") + ")")
    return 1 if failed else 0


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
        # --durations: the slowest tests in the log, to keep .ci/run under its 20 minutes
        return status or run([str(PYTHON), "-m", "pytest", "-n", "2", "--durations=25", *extra], cwd=ROOT)
    if command == "docs":
        ensure_environment()
        if extra[:1] == ["serve"]:
            return mkdocs(*extra)
        return mkdocs("build", "--strict", *extra)
    if command == "bench":
        ensure_environment()
        return bench(extra)
    print(__doc__)
    return 0 if command == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
