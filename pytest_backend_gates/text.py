"""Small wording helpers every layer uses: one `did_you_mean` for every "unknown name" message."""

from __future__ import annotations

import difflib


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""
