"""The one family of usage errors: mistakes of the person running the gates.

Bad configuration, a marker or fixture argument that is not allowed, a target that cannot
be reached, a budget that does not parse, a missing environment variable: each is a
`UsageError` whose text names the key or argument, the value, and what is allowed. The
wiring shows them as one message (``pytest.UsageError`` before the tests, ``pytest.fail(...,
pytrace=False)`` inside one), never as a traceback. Errors of the code under test, and
findings, are not usage errors.
"""

from __future__ import annotations

__all__ = ["ConfigError", "UsageError"]


class UsageError(Exception):
    """A mistake of the user, explained in ``str(exc)``; shown without a traceback."""


class ConfigError(UsageError):
    """Invalid configuration; each message is one line a user can act on."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages
