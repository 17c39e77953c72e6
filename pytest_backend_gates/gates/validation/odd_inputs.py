"""The odd values that parsers and validators get wrong, as hypothesis strategies: odd
characters and strings, wrong kinds of value with the boundaries that break code, one-edit
mutations of valid strings, and the hostile string library shared with the security gate.
What inputs.py and schema_inputs.py build invalid inputs from.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pytest_backend_gates import hostile

HUGE = 65536  # characters in a "huge" string

# Characters that parsers and validators get wrong: whitespace a strip() misses or a
# `$` lets through, digits int() and \d accept, signs and separators, case folding
# that changes length, invisible and direction characters, NUL, quotes, emoji.
ODD_CHARS = (" ", "\n", "\t", "\r", "\x00", "\u00a0", "\u200b", "_", "+", "-", ".", ",", "e", "0", "9", "a", "Z",
             "@", "'", '"', "<", "/", "\\", "%", "\u0663", "\uff11", "\u0130", "\u00e9", "\u00df", "\U0001f600",
             "\u202e", "\ufeff")
ODD_STRINGS = ("", " ", "\n", "0", "-1", "00", "1e3", "0x10", "1_000", "NaN", "inf", "null", "None", "true", "[]",
               "{}", "\u0663", "\uff11\uff12", "\u00a0 ", "a\x00b", "\u202eabc", "x" * HUGE, "9" * 5000)
INTERESTING_INTS = (0, -1, 1, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**30, -(10**30))
INTERESTING_FLOATS = (0.0, -0.0, 0.5, -1.5, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf)


def hostile_strings() -> SearchStrategy[str]:
    return st.sampled_from(hostile.ALL)


WRONG_KINDS: tuple[Any, ...] = (None, True, False, *INTERESTING_INTS, *INTERESTING_FLOATS, b"", b"\x00", [], {},
                                [None], {"": None}, [1, 2], {"a": 1}, [0] * 10_000, ODD_STRINGS[0], *ODD_STRINGS[1:])


def garbage() -> SearchStrategy[Any]:
    """Values of every JSON-ish kind, with the boundaries that break code. Constants on purpose:
    hypothesis gives a branch with much entropy most of the examples, and these are to be
    tried, not explored."""
    return st.sampled_from(WRONG_KINDS)


def _mutate(args: tuple[str, int, str, str]) -> str:
    text, position, how, char = args
    at = position % (len(text) + 1)
    if how == "insert":
        return text[:at] + char + text[at:]
    if how == "replace" and text:
        at = min(at, len(text) - 1)
        return text[:at] + char + text[at + 1:]
    if how == "delete" and text:
        at = min(at, len(text) - 1)
        return text[:at] + text[at + 1:]
    if how == "append":
        return text + char
    if how == "prepend":
        return char + text
    if how == "double":
        return text + text
    if how == "pad":  # the whitespace a strip() hides or `$` lets through
        return (" " + text, text + " ", text + "\n", "\t" + text)[position % 4]
    if how == "lookalike" and text:  # the same text in other scripts' digits / fullwidth forms
        at = min(at, len(text) - 1)
        c = text[at]
        if c.isdigit() and c.isascii():
            other = chr((0x0660 if position % 2 else 0xFF10) + int(c))
        elif "!" <= c <= "~":
            other = chr(ord(c) - 0x21 + 0xFF01)
        else:
            other = c.upper() if c.upper() != c else c.lower()
        return text[:at] + other + text[at + 1:]
    if how == "flood":  # a long run of one of its characters, the rest cut off: what makes a regex backtrack
        return text[:at] + (text[at] if at < len(text) else char) * 4096
    if how == "huge":
        return (text or char) * (HUGE // max(len(text), 1))
    if how == "upper":
        return text.upper() if text.upper() != text else text.lower()
    return text + char


MUTATIONS = ("pad", "lookalike", "insert", "replace", "append", "delete", "prepend", "double", "upper", "flood", "huge")


def string_mutations(valid: SearchStrategy[str]) -> SearchStrategy[str]:
    """Valid strings with one edit: most are invalid for a strict format, some are not."""
    return st.tuples(valid, st.integers(0, 64), st.sampled_from(MUTATIONS), st.sampled_from(ODD_CHARS)).map(_mutate)

