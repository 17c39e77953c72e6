"""The lines changed against a git ref, for coverage's `diff` (docs/coverage.md, "Coverage of changed lines").

Changed = what `git diff <merge base of the ref and HEAD>` shows against the working tree: the
branch's commits since it forked (changes made on the target branch after the fork are not this
branch's, as in diff-cover and a pull request's view) plus uncommitted changes, and untracked files
that are not ignored (a developer runs the gates before committing). Only added and modified lines
of Python files; deleted files have none, and a renamed file only its edited lines.

git runs with the project's root as cwd, a timeout, `core.quotepath=off` and every transport
disallowed: the gate never fetches (a partial clone would otherwise fetch missing blobs); when
something is missing, the error says what to fetch.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 60.0  # seconds per git command: a local diff of a large repository takes a few
PYTHON_SUFFIXES = (".py", ".pyw")
_PATHSPECS = tuple(f":(top)*{suffix}" for suffix in PYTHON_SUFFIXES)  # `*` matches across folders
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_CI_SETTINGS = "in GitHub Actions: actions/checkout with `fetch-depth: 0`; in GitLab CI: `GIT_DEPTH: 0`"


class DiffUnavailable(Exception):
    """The changed lines cannot be found; the message says why and how to fix it."""


@dataclass(frozen=True)
class ChangedLines:
    against: str  # the ref as configured
    base: str  # the merge base's commit id
    files: dict[Path, frozenset[int]]  # resolved absolute path -> added or modified line numbers


def changed_lines(against: str, root: Path) -> ChangedLines:
    """The Python lines changed against `against`, from `root` (the project's root); raises DiffUnavailable."""
    git = _Git(root, against)
    top = Path(git.run("rev-parse", "--show-toplevel", problem=_not_a_repository).strip()).resolve()
    git.run("rev-parse", "--verify", "--quiet", f"{against}^{{commit}}",
            problem=lambda _: _missing_ref(git, against))
    git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}",
            problem=lambda _: f"HEAD has no commit yet, so nothing was changed against {against!r}: commit first")
    base = git.run("merge-base", against, "HEAD",
                   problem=lambda _: _no_merge_base(git, against)).strip()
    # diff.relative=false instead of --no-relative, which git before 2.28 does not know
    patch = git.run("-c", "diff.relative=false", "diff", "--unified=0", "--no-color", "--no-ext-diff",
                    "--no-textconv", "--find-renames", "--ignore-submodules=all", "--src-prefix=a/", "--dst-prefix=b/",
                    base, "--", *_PATHSPECS)
    files: dict[Path, set[int]] = {}
    for name, lines in parse_patch(patch).items():
        files.setdefault((top / name).resolve(), set()).update(lines)
    untracked = git.run("ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", *_PATHSPECS)
    for name in filter(None, untracked.split("\0")):
        path = (top / name).resolve()
        files[path] = set(range(1, _line_count(path) + 1))
    return ChangedLines(against, base, {path: frozenset(lines) for path, lines in files.items() if lines})


def parse_patch(patch: str) -> dict[str, set[int]]:
    """Added or modified line numbers (new side) per file of a `git diff --unified=0` patch.

    A file's header (after `diff --git`, up to its first hunk) names it in `+++ b/PATH`
    (`+++ /dev/null` for a deleted file); a content line that looks like a header (an added
    line reading `++ x` shows as `+++ x`) is never read as one."""
    files: dict[str, set[int]] = {}
    current: str | None = None
    in_header = False
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            in_header, current = True, None
        elif in_header and line.startswith("+++ "):
            name = _unquote(line[4:])
            current = name[2:] if name.startswith("b/") else None  # None: /dev/null, deleted
        elif line.startswith("@@ "):
            in_header = False
            match = _HUNK.match(line)
            if current is None or match is None:
                continue
            start, count = int(match.group(1)), 1 if match.group(2) is None else int(match.group(2))
            if count:  # 0: lines were only removed here
                files.setdefault(current, set()).update(range(start, start + count))
    return files


def _unquote(text: str) -> str:
    """A path as git writes it in a header: as is (a tab is appended when it has a space), or
    C-quoted when it holds a quote, backslash or control character (octal escapes are bytes)."""
    if not text.startswith('"'):
        return text[:-1] if text.endswith("\t") else text
    out = bytearray()
    escapes = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
    i = 1
    while i < len(text) and text[i] != '"':
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567":
                out.append(int(text[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(escapes.get(nxt, ord(nxt)))
            i += 2
            continue
        out.extend(char.encode("utf-8", "surrogateescape"))
        i += 1
    return os.fsdecode(bytes(out))


def _line_count(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:  # removed or unreadable since git listed it: nothing to judge
        return 0


class _Git:
    def __init__(self, root: Path, against: str) -> None:
        self.root = root
        self.against = against
        # No transport is allowed (no fetch, not even a partial clone's lazy blob fetch), no prompt,
        # git's messages in English (they are quoted in errors).
        self.env = {**os.environ, "GIT_ALLOW_PROTOCOL": "", "GIT_NO_LAZY_FETCH": "1", "GIT_TERMINAL_PROMPT": "0",
                    "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}

    def run(self, *args: str, problem: Callable[[str], str] | None = None) -> str:
        """git's output; on failure DiffUnavailable with `problem(stderr)` when given, else git's own message."""
        command = ["git", "-c", "core.quotepath=off", *args]
        shown = "git " + " ".join(args)
        try:
            done = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, timeout=GIT_TIMEOUT,
                                  encoding="utf-8", errors="surrogateescape", stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise DiffUnavailable(f"git was not found (PATH), so the lines changed against {self.against!r} cannot "
                                  "be found; install git where the tests run, or remove `diff` from "
                                  "[tool.backend-gates.coverage]") from None
        except subprocess.TimeoutExpired:
            raise DiffUnavailable(f"`{shown}` did not finish within {GIT_TIMEOUT:g}s in {self.root}") from None
        if done.returncode == 0:
            return done.stdout
        stderr = done.stderr.strip()
        if problem is not None:
            raise DiffUnavailable(problem(stderr))
        first = stderr.splitlines()[0] if stderr else "no message"
        raise DiffUnavailable(f"`{shown}` failed in {self.root} (exit status {done.returncode}): {first}")

    def succeeds(self, *args: str) -> str | None:
        try:
            return self.run(*args).strip()
        except DiffUnavailable:
            return None


def _not_a_repository(stderr: str) -> str:
    if "not a git repository" not in stderr.lower():  # e.g. "detected dubious ownership": git's words say it
        first = stderr.splitlines()[0] if stderr else "no message"
        return f"git cannot read the repository of the project: {first}"
    return ("the project is not in a git repository, so there are no changed lines to judge; run the tests in a "
            "git checkout (in CI, check the repository out with git, not as an archive), or remove `diff` from "
            "[tool.backend-gates.coverage]")


def _missing_ref(git: _Git, against: str) -> str:
    remote, _, branch = against.partition("/")
    remotes = (git.succeeds("remote") or "").split()
    if branch and remote in remotes:
        fetch = f"`git fetch {remote} {branch}`"
    else:
        fetch = f"`git fetch origin {against}:{against}` (for a branch of origin), or name it as origin/{against}"
    shallow = " (this clone is shallow)" if git.succeeds("rev-parse", "--is-shallow-repository") == "true" else ""
    return (f"diff.against: the git ref {against!r} does not exist in this clone{shallow}, so the changed lines "
            f"cannot be found; fetch it before the tests: {fetch}; {_CI_SETTINGS} (the gate never fetches)")


def _no_merge_base(git: _Git, against: str) -> str:
    if git.succeeds("rev-parse", "--is-shallow-repository") == "true":
        return (f"this clone is shallow and its history does not reach the commit where HEAD forked from {against!r} "
                f"(git merge-base found none), so the changed lines cannot be found; fetch the whole history: "
                f"{_CI_SETTINGS}; locally `git fetch --unshallow`")
    return (f"HEAD and {against!r} have no common history (git merge-base found none), so there is no fork point "
            "to diff against; set diff.against to the branch this one was created from")
