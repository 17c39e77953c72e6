"""`${ENV}` interpolation for config strings, and redaction of what it produced.

Every value taken from the environment is remembered by a :class:`Redactor`,
and everything the plugin prints or writes goes through :meth:`Redactor.redact`,
so a token in `headers = { Authorization = "Bearer ${API_TOKEN}" }` shows up
as `${API_TOKEN}` in output, reports and reproductions, never as its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# ${NAME} or ${NAME:-default}; "$$" escapes a literal "$".
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Redactor:
    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}  # value -> placeholder

    def add(self, value: str, placeholder: str) -> None:
        if value:
            self._secrets[value] = placeholder

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is replaced whole.
        for value in sorted(self._secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, self._secrets[value])
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


def interpolate(text: str, environ: Mapping[str, str], redactor: Redactor) -> str:
    """Expand `${NAME}` / `${NAME:-default}`; values from `environ` become secrets.

    Raises :class:`MissingVariable` for an unset variable without a default.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            value = environ[name]
            redactor.add(value, "${" + name + "}")
            return value
        if default is not None:
            return default
        raise MissingVariable(name)

    return _REFERENCE.sub(replace, text)
