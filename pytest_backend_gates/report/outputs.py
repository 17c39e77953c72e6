"""Writing the CI outputs a run asked for (SPEC section 7): each file reporter renders a RunView
to text, written atomically; a file that cannot be written is a problem the run reports (and
fails on), never a traceback that loses the summary."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path

from pytest_backend_gates.files import atomic_write_text, unwritable_reason
from pytest_backend_gates.report.github import write_step_summary
from pytest_backend_gates.report.view import RunView

# option suffix (--backend-gates-<name>=PATH) -> "module:function" rendering a RunView to the file's text
FILE_OUTPUTS: dict[str, str] = {
    "sarif": "pytest_backend_gates.report.sarif:sarif_text",
    "codeclimate": "pytest_backend_gates.report.codeclimate:codeclimate_text",
    "html": "pytest_backend_gates.report.html:html_text",
}


def _renderer(name: str) -> Callable[[RunView], str]:
    module, _, function = FILE_OUTPUTS[name].partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def check_output_paths(paths: Mapping[str, str | None]) -> list[str]:
    """Before any test runs: each output path asked for that cannot be written, as a usage message."""
    problems = []
    for name, given in paths.items():
        if given is None:
            continue
        if not given.strip():
            problems.append(f"--backend-gates-{name}: '' is empty; expected a file path, "
                            f"e.g. --backend-gates-{name}=backend-gates.{_suffix(name)}")
            continue
        reason = unwritable_reason(Path(given).expanduser().absolute(), example=f"backend-gates.{_suffix(name)}")
        if reason is not None:
            problems.append(f"--backend-gates-{name}={given}: cannot be written: {reason}")
    return problems


def write_outputs(view: RunView, paths: Mapping[str, str | None], environ: Mapping[str, str]) -> list[str]:
    """Write every output asked for; returns what could not be written (one sentence each)."""
    problems = []
    for name, given in paths.items():
        if not given:
            continue
        path = Path(given).expanduser().absolute()
        try:
            text = _renderer(name)(view)
        except Exception as exc:  # noqa: BLE001 - a reporter's bug must not lose the summary and the other outputs
            problems.append(f"the {name} report was NOT written to {path}: its reporter crashed: "
                            f"{type(exc).__name__}: {exc}")
            continue
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            problems.append(f"the {name} report was NOT written to {path}: {unwritable_reason(path) or exc.strerror or exc}")
    try:
        write_step_summary(view, environ)
    except OSError as exc:
        problems.append(f"the GitHub step summary was NOT written to {environ.get('GITHUB_STEP_SUMMARY')}: "
                        f"{exc.strerror or exc}")
    return problems


def _suffix(name: str) -> str:
    return {"sarif": "sarif", "codeclimate": "codequality.json", "html": "html"}.get(name, name)
