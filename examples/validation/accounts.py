"""Sign-up rules: usernames and e-mail addresses.

- `validate_username` (fixed) / `validate_username_buggy`: 3 to 20 characters,
  lowercase ASCII letters, digits and "_", starting with a letter. The buggy rule
  "normalises" with strip().lower() and trusts str.isalnum(), which is true for
  every script's letters: " Ann", "ÅSA" and "名前abc" get accounts, and None is an
  AttributeError instead of a ValueError.
- `validate_email` (fixed) / `validate_email_buggy`: the buggy check accepts the
  same addresses, but its nested quantifier `[a-z0-9](?:[a-z0-9._-]+)*` backtracks
  exponentially on a long run of letters without an "@" (30 letters: seconds; a
  few hundred: longer than the universe): one request ties up a worker (ReDoS).
  The fixed twin also refuses anything longer than 254 characters before matching.
"""

from __future__ import annotations

import re

USERNAME = re.compile(r"[a-z][a-z0-9_]{2,19}")
DOMAIN = r"@[a-z0-9-]{1,30}(?:\.[a-z]{2,10}){1,3}"
EMAIL = re.compile(r"[a-z0-9][a-z0-9._-]{0,30}" + DOMAIN)
# The same addresses (with the length check below), but `(?:[...]+)*` backtracks exponentially.
EMAIL_BUGGY = re.compile(r"[a-z0-9](?:[a-z0-9._-]+)*" + DOMAIN)


def validate_username(name: object) -> str:
    if not isinstance(name, str) or USERNAME.fullmatch(name) is None:
        raise ValueError("a username is 3-20 lowercase letters, digits or _, starting with a letter")
    return name


def validate_username_buggy(name: str) -> str:
    name = name.strip().lower()
    if not 3 <= len(name) <= 20 or not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError("a username is 3-20 lowercase letters, digits or _, starting with a letter")
    return name


def validate_email(text: object) -> str:
    if not isinstance(text, str) or len(text) > 254 or EMAIL.fullmatch(text) is None:
        raise ValueError("not an e-mail address")
    return text


def validate_email_buggy(text: object) -> str:
    if not isinstance(text, str) or EMAIL_BUGGY.fullmatch(text) is None or len(text.partition("@")[0]) > 31:
        raise ValueError("not an e-mail address")
    return text
