"""Who the HTTP gates act as: the credentials of each identity, obtained and kept fresh.

One `IdentitySession` per pytest process (stored in `config.stash`; under xdist each worker
logs in itself). An identity's headers come from its `headers` (static), its `login` (a request
whose JSON answer holds the token; `signup` first, once, 4xx ignored) or its `provider` (a
function called in-process with the identity's name and a client). A login identity logs in on
first use and again when an answer is 401 (at most once per request: `IdentityAuth`).

Every credential obtained at run time is given to the redactor, so a token never appears in
output, reports or reproductions: it is shown as `${BACKEND_GATES_TOKEN_<NAME>}`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Generator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from pytest_backend_gates.config import GatesConfig
from pytest_backend_gates.identity_settings import (
    AuthRequest,
    Identities,
    IdentitySettings,
)
from pytest_backend_gates.redaction import Redactor
from pytest_backend_gates.service.client import target_client
from pytest_backend_gates.service.target import TargetError
from pytest_backend_gates.settings import ContractSettings

# A raw client of the target: no identity, only the configured contract headers.
Connect = Callable[[], AbstractContextManager[httpx.Client]]


class LoginFailed(TargetError):
    """An identity could not obtain credentials: the gate that needed them is `error` (every gate
    reports a TargetError as its error, with this message naming identity, operation and status)."""


def token_placeholder(name: str) -> str:
    """How a run-time credential of identity `name` is shown: an environment variable a user
    can set to replay a printed command."""
    return "${BACKEND_GATES_TOKEN_" + "".join(c if c.isalnum() else "_" for c in name).upper() + "}"


class IdentitySession:
    """The credentials of every identity for this process, obtained once and renewed on a 401."""

    def __init__(self, identities: Identities, base_headers: Mapping[str, str], connect: Connect,
                 redactor: Redactor) -> None:
        self.identities = identities
        self._base = dict(base_headers)
        self._connect = connect
        self._redactor = redactor
        self._headers: dict[str, dict[str, str]] = {}
        self._signed_up: set[str] = set()
        self._locks = {name: threading.Lock() for name in identities.by_name}
        # Why a login failed, in order. A failure inside schemathesis' auth hook becomes only its
        # "Token fetch failed" note: the contract gate reports these as its error instead.
        self.failures: list[str] = []

    @property
    def default(self) -> str | None:
        return self.identities.default

    def settings(self, name: str | None = None) -> IdentitySettings:
        identity = self.identities.get(name)
        if identity is None:
            known = ", ".join(self.identities.by_name) or "none is defined"
            raise LoginFailed(f"identity {name!r} is not defined; defined identities: {known} "
                              "([tool.backend-gates.identities.NAME] in pyproject.toml)")
        return identity

    def headers(self, name: str | None = None) -> dict[str, str]:
        """The headers to send as `name` (default: the default identity); LoginFailed says why not."""
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        identity = self.settings(name)
        with self._locks[identity.name]:
            if identity.name not in self._headers:
                self._headers[identity.name] = self._obtain_noted(identity)
            return dict(self._headers[identity.name])

    def renew(self, name: str | None, refused: Mapping[str, str]) -> dict[str, str] | None:
        """After a 401 to a request sent with `refused`: fresh headers (logging in again unless
        another thread already did), or None when the identity's credentials cannot be renewed
        (static headers)."""
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        identity = self.settings(name)
        if identity.kind == "static":
            return None
        with self._locks[identity.name]:
            current = self._headers.get(identity.name)
            if current is None or _same(current, refused):
                self._headers[identity.name] = self._obtain_noted(identity)
            return dict(self._headers[identity.name])

    def set_by_caller(self, request_headers: httpx.Headers, identity_headers: Mapping[str, str]) -> set[str]:
        """The names (lower case) among `identity_headers` that a request already carries with a
        value of its own: not the configured contract header its client sends by default."""
        base = {k.lower(): v for k, v in self._base.items()}
        return {name.lower() for name in identity_headers
                if name in request_headers and request_headers[name] != base.get(name.lower())}

    def auth(self, name: str | None = None) -> IdentityAuth:
        return IdentityAuth(self, name)

    def names(self) -> tuple[str, ...]:
        return tuple(self.identities.by_name)

    # -- obtaining credentials ---------------------------------------------------------
    def _obtain_noted(self, identity: IdentitySettings) -> dict[str, str]:
        try:
            return self._obtain(identity)
        except LoginFailed as exc:
            self.failures.append(str(exc))
            raise

    def _obtain(self, identity: IdentitySettings) -> dict[str, str]:
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        headers = {**self._base, **identity.headers}
        if identity.kind == "static":
            return headers
        with self._connect() as client:
            if identity.kind == "provider":
                obtained = self._call_provider(identity, client)
            else:
                assert identity.login is not None
                if identity.signup is not None and identity.name not in self._signed_up:
                    self._sign_up(identity, identity.signup, client)
                obtained = self._log_in(identity, identity.login, client)
        for value in obtained.values():
            # "Bearer <token>": the token is the secret; keeping the scheme keeps a replay runnable
            scheme, _, credential = value.partition(" ")
            secret = credential if credential and scheme.isalpha() else value
            self._redactor.add(secret, token_placeholder(identity.name), f"identity {identity.name}")
        return {**headers, **obtained}

    def _sign_up(self, identity: IdentitySettings, signup: AuthRequest, client: httpx.Client) -> None:
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        response = _send(client, signup)
        self._signed_up.add(identity.name)
        if response.status_code >= 500:
            raise LoginFailed(f"identity {identity.name!r}: signup {signup.operation} answered "
                              f"{response.status_code}{_excerpt(response)}")

    def _log_in(self, identity: IdentitySettings, login: AuthRequest, client: httpx.Client) -> dict[str, str]:
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        response = _send(client, login)
        if not 200 <= response.status_code < 300:
            raise LoginFailed(f"identity {identity.name!r}: login {login.operation} answered "
                              f"{response.status_code}{_excerpt(response)}; check the credentials in "
                              f"[tool.backend-gates.identities.{identity.name}] login")
        try:
            document = response.json()
        except ValueError:
            raise LoginFailed(f"identity {identity.name!r}: login {login.operation} answered "
                              f"{response.status_code} without JSON; expected the token at {login.token!r} "
                              "of a JSON answer (or use a provider for cookies and other schemes)") from None
        token = _dotted(document, login.token)
        if not isinstance(token, str) or not token:
            keys = ", ".join(document) if isinstance(document, dict) else type(document).__name__
            raise LoginFailed(f"identity {identity.name!r}: login {login.operation} answered "
                              f"{response.status_code} but its JSON has no token at {login.token!r} "
                              f"(top-level keys: {keys}); set token = \"<dotted.path>\" in the login table")
        return {login.header: f"{login.prefix}{token}"}

    def _call_provider(self, identity: IdentitySettings, client: httpx.Client) -> dict[str, str]:
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        assert identity.provider is not None
        module_name, _, attribute = identity.provider.partition(":")
        where = f"identity {identity.name!r}: provider {identity.provider!r}"
        try:
            function: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                function = getattr(function, part)
        except (ImportError, AttributeError) as exc:
            raise LoginFailed(f"{where} cannot be imported: {type(exc).__name__}: {exc}") from None
        try:
            headers = function(identity.name, client)
        except Exception as exc:  # noqa: BLE001 - the user's function: its failure is the login's
            raise LoginFailed(f"{where} raised {type(exc).__name__}: {exc}") from None
        if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in headers.items()):
            raise LoginFailed(f"{where} returned {type(headers).__name__}; expected a dict of header "
                              "names to strings, e.g. {'Authorization': 'Bearer ...'}")
        return dict(headers)


class IdentityAuth(httpx.Auth):
    """httpx auth acting as one identity: its headers on every request, and on a 401 one new
    login and one retry (never more per request)."""

    requires_request_body = True  # the retry sends the body again

    def __init__(self, session: IdentitySession, name: str | None = None) -> None:
        self.session = session
        self.name = name

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        __tracebackhide__ = True  # a failed login is one message; its frames hold credentials
        sent = self.session.headers(self.name)
        # A header the caller set on the request itself (e.g. a test sending no credentials, or
        # another user's token) wins over the identity's, as it did over contract.headers; and a
        # 401 to the caller's own credentials is the caller's answer, not a reason to log in again.
        own = self.session.set_by_caller(request.headers, sent)
        request.headers.update({k: v for k, v in sent.items() if k.lower() not in own})
        response = yield request
        if response.status_code == 401 and not own:
            fresh = self.session.renew(self.name, sent)
            if fresh is not None and not _same(fresh, sent):
                response.read()
                request.headers.update(fresh)
                yield request


def _send(client: httpx.Client, request: AuthRequest) -> httpx.Response:
    kwargs: dict[str, Any] = {}
    if request.body_kind == "json":
        kwargs["json"] = request.body
    elif request.body_kind == "form":
        kwargs["data"] = request.body
    try:
        return client.request(request.method, request.path, **kwargs)
    except httpx.HTTPError as exc:
        raise LoginFailed(f"{request.operation} could not be sent: {type(exc).__name__}: {exc}") from None


def _dotted(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return f": {text[:200]}{'...' if len(text) > 200 else ''}" if text else ""


def _same(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    return {k.lower(): v for k, v in a.items()} == {k.lower(): v for k, v in b.items()}



# -- the session of this process ---------------------------------------------------------
_SESSION_KEY = pytest.StashKey["IdentitySession | None"]()
_SESSION_LOCK = threading.Lock()


def identity_session(pytest_config: pytest.Config, gates_config: GatesConfig) -> IdentitySession | None:
    """The identities of this process (None: none is defined, or there is no service to log in
    to); created once, on first use, in `config.stash`."""
    with _SESSION_LOCK:
        if _SESSION_KEY not in pytest_config.stash:
            contract = gates_config.get(ContractSettings)
            session = None
            if gates_config.identities and contract is not None:
                session = IdentitySession(gates_config.identities, contract.headers,
                                          lambda: target_client(contract, headers=dict(contract.headers)),
                                          gates_config.redactor)
            pytest_config.stash[_SESSION_KEY] = session
        return pytest_config.stash[_SESSION_KEY]


def act_in_schema(schema: Any, session: IdentitySession, name: str | None = None) -> None:
    """Every case schemathesis sends from `schema` (unit and stateful phases) acts as the
    identity, through schemathesis' own auth hooks: a 401 makes it log in again and replay
    the case once (its reactive re-auth), never more."""

    class IdentityProvider:
        def __init__(self) -> None:
            self.sent: dict[str, str] | None = None

        def get(self, case: Any, context: Any) -> dict[str, str]:
            # Asked again only after a 401 (the cache never expires on its own): log in again.
            fresh = None if self.sent is None else session.renew(name, self.sent)
            self.sent = fresh or session.headers(name)
            return self.sent

        def set(self, case: Any, data: dict[str, str], context: Any) -> None:
            names = {key.lower() for key in data}
            kept = {k: v for k, v in (case.headers or {}).items() if k.lower() not in names}
            case.headers = {**kept, **data}

    schema.auth(refresh_interval=2**31, retry_on=[401])(IdentityProvider)
