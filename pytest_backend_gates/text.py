"""Small wording helpers every layer uses: one `did_you_mean` for every "unknown name" message."""

from __future__ import annotations

import difflib
import re


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def indent_lines(text: str, width: int = 15) -> str:
    """A reproduction of several commands after a label ('    reproduce: '): each later command
    aligned under the first. Only lines starting a command move: a newline inside a quoted body
    stays as it is, so the command still replays byte for byte."""
    return re.sub(r"\n(?=curl )", "\n" + " " * width, text)
