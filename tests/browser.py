"""Headless Chromium for the tests of the HTML report: open a page offline with a fresh profile,
get its DOM after the page's script ran, its console messages and a screenshot; and a small DOM
(stdlib html.parser) to query what was rendered. Skips with the reason where Chromium is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = ("Chromium is not installed, so the HTML report is not opened in a browser "
               "(Debian: apt-get install chromium; .ci/run installs it where apt-get works)")
# Chromium stays offline: no first-run, sync, component or background fetches, and anything it
# would still request goes to a proxy on the loopback discard port, which refuses it.
OFFLINE = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--disable-extensions", "--disable-breakpad", "--metrics-recording-only",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0")
CONSOLE = re.compile(r":CONSOLE[(:]")  # a page's console message in Chromium's log
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.parts) + "".join(c.text() for c in self.children)

    def all(self, tag: str = "*", **attrs: str) -> list[Node]:
        """Descendants with this tag (or any) whose attributes hold these values (class: one of its classes)."""
        found = []
        for child in self.children:
            if (tag in ("*", child.tag)) and all(
                    value in child.attrs.get("class", "").split() if key == "class_" else child.attrs.get(key) == value
                    for key, value in attrs.items()):
                found.append(child)
            found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str = "*", **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, [n.attrs for n in found])
        return found[0]


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(html_text: str) -> Node:
    tree = _Tree()
    tree.feed(html_text)
    tree.close()
    return tree.root


@dataclass
class Rendered:
    document: Node  # the DOM after the page's script ran
    console: list[str]  # every console message (the report writes none)
    screenshot: Path

    @property
    def html(self) -> Node:
        return self.document.one("html")


def open_in_chromium(page: Path, work: Path) -> Rendered:
    """`page` rendered by headless Chromium with a fresh profile: its DOM, console and a screenshot."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    profile = work / f"chromium-profile-{page.stem}"
    shutil.rmtree(profile, ignore_errors=True)
    screenshot = work / f"{page.stem}.png"
    done = subprocess.run([CHROMIUM, *OFFLINE, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
                           "--window-size=1280,2000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-4000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {screenshot}"
    print(f"screenshot of {page.name}: {screenshot}")  # kept under the test's tmp dir
    return Rendered(parse(done.stdout), [line for line in done.stderr.splitlines() if CONSOLE.search(line)],
                    screenshot)


def external_references(document: Node) -> list[str]:
    """Every attribute through which a page could load or send something outside itself."""
    loading = {"src", "href", "action", "formaction", "poster", "data", "xlink:href", "srcset", "background"}
    refs = []
    for node in document.all():
        if node.tag in ("link", "iframe", "object", "embed", "img", "base", "audio", "video", "source"):
            refs.append(f"<{node.tag}>")
        refs += [f"{node.tag} {k}={v}" for k, v in node.attrs.items() if k in loading and not v.startswith("#")]
    return refs


def assert_offline(html_file: Path) -> None:
    """The file references nothing outside itself, and its policy lets the browser load nothing."""
    source = html_file.read_text(encoding="utf-8")
    assert external_references(parse(source)) == []
    assert "url(" not in source and "@import" not in source
    policy = parse(source).one("meta", **{"http-equiv": "Content-Security-Policy"}).attrs["content"]
    assert policy.startswith("default-src 'none';"), policy


def assert_clean(rendered: Rendered) -> None:
    """The page's script ran, caught no error or refused load, and nothing reached the console."""
    assert rendered.html.attrs.get("data-report-ready") == "1", "the page's script did not run"
    assert "data-report-errors" not in rendered.html.attrs, rendered.html.attrs["data-report-errors"]
    assert rendered.console == []
