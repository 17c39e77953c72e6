"""The docs are the user's contract: every page they link exists (and every anchor), and the
statuses and gate names docs/report.md documents are exactly the ones the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_backend_gates.gates import registry
from pytest_backend_gates.gates.registry import GATE_NAMES
from pytest_backend_gates.result import Status

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where `[x](y)` is not a link."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as '-', repeats numbered."""
    anchors: set[str] = set()
    text = re.sub(r"^(```|~~~).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def _relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(page.read_text(encoding="utf-8")))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: are not files


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file or directory")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_pages_have_links_to_check() -> None:
    # The parser must find the README's documentation list, or the test above checks nothing.
    assert "docs/report.md" in _relative_links(ROOT / "README.md")


def test_the_readme_lists_every_docs_page() -> None:
    documentation = _section((ROOT / "README.md").read_text(encoding="utf-8"), "## Documentation")
    listed = {target.partition("#")[0] for target in LINK.findall(documentation)}
    missing = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md"))
               if p.relative_to(ROOT).as_posix() not in listed]
    assert not missing, f"README.md's documentation list omits {missing}"


def test_no_page_cites_a_file_outside_the_repository() -> None:
    # The docs are the contract; a document users do not have (SPEC.md) cannot be part of it.
    citing = [p.relative_to(ROOT).as_posix() for p in PAGES if "SPEC" in p.read_text(encoding="utf-8")]
    assert not citing


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^#{1,3} ", text[start + len(heading):], flags=re.MULTILINE)
    return text[start:start + len(heading) + following.start()] if following else text[start:]


REPORT = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")


def test_documented_statuses_are_the_codes_statuses() -> None:
    table = _section(REPORT, "### Statuses")
    rows = re.findall(r"^\| `([a-z]+)` \|[^|]*\|([^|]*)\|", table, flags=re.MULTILINE)
    assert [status for status, _ in rows] == [status.value for status in Status]
    # A status some gate reports is not documented as unused ("reserved", "no gate reports it").
    sources = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "pytest_backend_gates").rglob("*.py"))
    for status, when in rows:
        if f"Status.{status.upper()}" in sources:
            assert not re.search(r"reserved|no gate", when), f"{status}: {when.strip()}"
    entry_row = next(line for line in _section(REPORT, "### Gate entry").splitlines() if line.startswith("| `status`"))
    assert re.findall(r"`([a-z]+)`", entry_row.split("|")[3]) == [status.value for status in Status]


def test_documented_gate_names_are_the_codes_gate_names() -> None:
    gates_row = next(line for line in _section(REPORT, "### Top level").splitlines() if line.startswith("| `gates`"))
    documented = re.findall(r"`([a-z]+)`", gates_row.split("Built-in gates come in the order", 1)[1])
    assert documented == list(GATE_NAMES)  # the report's order too
    assert set(registry.BY_NAME) == set(GATE_NAMES)
