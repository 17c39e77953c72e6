"""What the security probes send and report: `ProbeRequest` (one request, built from an
operation's smallest valid request), `ProbeReport` (one probe's findings and notes),
`RaisedRequest` (a request that got no answer), the bound's `ProbeLimitReached`, and
`describe_exception` (an exception in one line, at the app's own frame).
"""

from __future__ import annotations

import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_backend_gates.gates.response_rules import RuleFinding
from pytest_backend_gates.location import PACKAGE_DIR


class ProbeLimitReached(Exception):
    """The probes' request or time bound was reached."""


@dataclass
class ProbeRequest:
    operation: str  # "PATCH /users/{user_id}"
    method: str
    path_template: str  # the path served: under the schema's base path ("/api/users/{user_id}")
    path_parameters: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    media_type: str | None = None

    @property
    def path(self) -> str:
        path = self.path_template
        for name, value in self.path_parameters.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return path


@dataclass
class ProbeReport:
    findings: list[tuple[RuleFinding, str | None]] = field(default_factory=list)  # (finding, reproduce)
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    idle: str | None = None  # why the probe had nothing to send, when it sent nothing
    untested: str | None = None  # why it tested nothing although it sent requests
    # why it tested nothing although it should have (the authz probe created nothing): the gate's error
    tested_nothing: str | None = None
    # why it does not apply to this service (no bearer JWT to forge): skipped without a warning,
    # the reason in measured.probes_not_run
    not_applicable: str | None = None


@dataclass
class ProbeContext:
    """What the identity probes need besides the schema and a client: the identities (None: none
    defined), the security settings (admin_only, shared, jwt_key), the redactor (a token's parts
    shown as placeholders) and the configured contract headers."""

    identities: Any = None  # service.identities.IdentitySession
    security: Any = None  # settings.SecuritySettings
    redactor: Any = None  # redaction.Redactor
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RaisedRequest:
    """A probe request that got no answer: sending it raised (the app's own exception under a
    client that propagates it, a dropped connection, a timeout)."""

    operation: str
    error: str
    reproduce: str


def describe_exception(exc: BaseException, *, app_frame: bool = True) -> str:
    """'OperationalError: near "x": syntax error (at app.py:12 in search)': the innermost frame of
    the app's own code, none when the exception came from a library (a dropped connection); with
    `app_frame=False` the innermost frame wherever it is (a probe's own crash)."""
    libraries = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                 PACKAGE_DIR)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not app_frame
              or (not f.filename.startswith(libraries) and "site-packages" not in f.filename)]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}{': ' + text[:300] if text else ''}{where}"
