"""`${ENV}` interpolation for config strings, and redaction of what it produced.

Every value taken from the environment where the configuration may carry a secret (a header,
a URL, a path, a third-party gate's string) is remembered by a :class:`Redactor`, and
everything the plugin prints or writes goes through :meth:`Redactor.redact`, so a token in
`headers = { Authorization = "Bearer ${API_TOKEN}" }` shows up as `${API_TOKEN}` in output,
reports and reproductions, never as its value.

Redaction replaces the value wherever it appears, so a value shorter than
:data:`MIN_SECRET_LENGTH` (a tenant id "1", a port "8000") is not redacted: it would rewrite
seeds, counts and paths all over the output. The variable is named in a warning instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_backend_gates.errors import UsageError

# ${NAME} or ${NAME:-default}; "$$" escapes a literal "$".
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Shorter values occur by chance in seeds, ports, counts and paths (any 5 digits do in a
# 10-digit seed often enough); a real credential is longer.
MIN_SECRET_LENGTH = 6


class MissingVariable(UsageError, LookupError):
    """A ${NAME} in the configuration whose variable is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Redactor:
    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}  # value -> placeholder
        self._too_short: dict[str, list[str]] = {}  # variable -> where it is used

    def add(self, value: str, placeholder: str, where: str = "") -> None:
        if not value:
            return
        if len(value) < MIN_SECRET_LENGTH:
            used = self._too_short.setdefault(placeholder, [])
            if where and where not in used:
                used.append(where)
            return
        # A new dict, not an update: credentials obtained at run time (a login's token) are added
        # while other threads redact.
        self._secrets = {**self._secrets, value: placeholder}

    def add_literal(self, value: str, placeholder: str) -> None:
        """A secret written in the configuration itself (not from ${ENV}, which is known already);
        too short to redact safely, it is left alone."""
        if len(value) >= MIN_SECRET_LENGTH and self.redact(value) == value:
            self._secrets = {**self._secrets, value: placeholder}

    @property
    def warnings(self) -> list[str]:
        """One line per variable whose value was too short to redact; never the value."""
        return [f"environment variable {placeholder[2:-1]} (used as {placeholder}"
                f"{' in ' + ', '.join(used) if used else ''}) has a value shorter than {MIN_SECRET_LENGTH} "
                "characters, too short to redact safely: it is not redacted from the output and the report. "
                "If it is a secret, use a longer one"
                for placeholder, used in self._too_short.items()]

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is replaced whole.
        secrets = self._secrets
        for value in sorted(secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, secrets[value])
        return text

    def redact_data(self, data: Any) -> Any:
        """Redact every string inside JSON-like data (dict keys included)."""
        if not self._secrets:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {self.redact_data(k): self.redact_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.redact_data(item) for item in data]
        return data


def interpolate(text: str, environ: Mapping[str, str], redactor: Redactor | None, where: str = "") -> str:
    """Expand `${NAME}` / `${NAME:-default}`; values from `environ` become secrets of `redactor`
    (None: the value is not one, e.g. a duration or a list of names).

    Raises :class:`MissingVariable` for an unset variable without a default.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            value = environ[name]
            if redactor is not None:
                redactor.add(value, "${" + name + "}", where)
            return value
        if default is not None:
            return default
        raise MissingVariable(name)

    return _REFERENCE.sub(replace, text)
