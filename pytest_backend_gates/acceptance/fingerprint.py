"""A violation's stable fingerprint: the same finding gets the same one on the next run.

What changes from run to run while the finding stays the same is left out: numbers (counts,
timings, percentages, seeds, line numbers), ids (uuids, hex digests), quoted values that are
not names (the generated input that triggered it) and every line of the message after the
first (examples, tracebacks). What is kept: gate, check, where and the words of the message's
first line, quoted names included (which header, which body field).
"""

from __future__ import annotations

import hashlib
import re

from pytest_backend_gates.result import Violation

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}\b")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
_NAME = re.compile(r"[A-Za-z_][\w.:/-]{0,63}")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*")
_SPACE = re.compile(r"\s+")


def _quoted(match: re.Match[str]) -> str:
    inner = match.group(1) if match.group(1) is not None else match.group(2)
    return match.group(0) if _NAME.fullmatch(inner) else "<value>"


def stable_text(text: str) -> str:
    """The parts of a message that stay the same from run to run."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = _UUID.sub("<id>", first)
    first = _HEX.sub("<id>", first)
    first = _QUOTED.sub(_quoted, first)
    first = _NUMBER.sub("#", first)
    return _SPACE.sub(" ", first).strip()


def stable_where(where: str) -> str:
    """`where` names a place (an operation, a file, a test): kept but for ids inside it."""
    return _SPACE.sub(" ", _HEX.sub("<id>", _UUID.sub("<id>", where))).strip()


def fingerprint(gate: str, violation: Violation) -> str:
    what = stable_text(violation.message) if violation.identity is None else violation.identity
    key = "\x1f".join((gate, violation.check, stable_where(violation.where), what))
    return hashlib.sha256(key.encode()).hexdigest()[:16]
