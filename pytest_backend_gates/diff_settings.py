"""`diff` of the coverage table: coverage of the lines changed against a git ref (SPEC section 7,
docs/coverage.md "Coverage of changed lines"). Its own module: settings.py is at its size limit."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_backend_gates.text import did_you_mean
from pytest_backend_gates.toml_table import Table, shown_key


@dataclass(frozen=True)
class DiffSettings:
    against: str  # a git ref: "origin/main", a tag, a commit
    min: float | None = None  # None: measured and reported, not enforced


DIFF_KEYS: tuple[str, ...] = ("against", "min")
_DIFF_EXAMPLE = '{ against = "origin/main", min = 90 }'
_REF_EXAMPLE = "a git ref such as 'origin/main' (a branch, tag or commit)"


def parse_diff(t: Table) -> DiffSettings | None:
    raw = t._take("diff")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        t.error("diff", raw, f"is not a table; expected e.g. diff = {_DIFF_EXAMPLE}")
        return None
    before = t.error_count
    for key in raw:
        if key not in DIFF_KEYS:
            t.problem(f"diff.{shown_key(key)}", f"unknown key; {did_you_mean(key, DIFF_KEYS)}allowed keys in diff: "
                      f"{', '.join(DIFF_KEYS)}, e.g. diff = {_DIFF_EXAMPLE}")
    written = raw.get("against")
    against: str | None = None
    if written is None:
        t.missing("diff.against", f"{_REF_EXAMPLE}, e.g. diff = {_DIFF_EXAMPLE}")
    elif not isinstance(written, str):
        t.error("diff.against", written, f"is not a string; expected {_REF_EXAMPLE}")
    else:
        # a ref is no secret: `origin/${GITHUB_BASE_REF:-main}` must not redact "main" everywhere
        against = t._expand("diff.against", written, secret=False)
        if against is not None and not against.strip():
            t.error("diff.against", written, f"is empty; expected {_REF_EXAMPLE}")
        elif against is not None and (against.startswith("-") or re.search(r"[\s\x00-\x1f\x7f]", against)):
            # an option to git, or not one word: never passed on
            t.error("diff.against", written, f"is not a git ref; expected {_REF_EXAMPLE}")
    minimum = t._check_percent("diff.min", raw["min"], None) if "min" in raw else None
    if against is None or t.error_count > before:
        return None
    return DiffSettings(against=against, min=minimum)
