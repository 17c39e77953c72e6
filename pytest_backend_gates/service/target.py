"""What the HTTP gates talk to: an app imported in-process, or a server at base_url.

Shared by every HTTP gate and the `api` fixture, so every gate reaches the same
target the same way; an in-process app is served by `serving.py`, one wrapper
per app object.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_backend_gates.errors import UsageError
from pytest_backend_gates.service.serving import served
from pytest_backend_gates.settings import ContractSettings, is_loopback_url

IN_PROCESS_BASE_URL = "http://testserver"
# What reproductions say instead of the in-process pseudo host: where a
# developer would start the app to replay a failure.
REPLAY_BASE_URL = "http://127.0.0.1:8000"


class TargetError(UsageError):
    """The target cannot be used; the message says why and what to change."""


@dataclass(frozen=True)
class Target:
    kind: Literal["asgi", "wsgi", "url"]
    app: Any  # None for "url"
    base_url: str
    description: str

    @property
    def in_process(self) -> bool:
        return self.app is not None


def is_asgi(app: Any) -> bool:
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None))


def load_app(spec: str) -> Any:
    """'package.module:attr' or 'package.module:factory()'."""
    module_name, _, attribute = spec.partition(":")
    call = attribute.endswith("()")
    attribute = attribute.removesuffix("()")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TargetError(
            f"app = {spec!r}: importing {module_name!r} failed with {type(exc).__name__}: {exc} "
            "(is the project importable from the rootdir? pytest's `pythonpath` ini option can add src/)"
        ) from exc
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"app = {spec!r}: {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if call:
        try:
            obj = obj()
        except Exception as exc:
            raise TargetError(f"app = {spec!r}: calling the factory failed with {type(exc).__name__}: {exc}") from exc
    problem = application_problem(obj, spec, call)
    if problem is not None:
        raise TargetError(f"app = {spec!r} {problem}, not an ASGI or WSGI application; expected an ASGI app "
                          f"(async def app(scope, receive, send), e.g. FastAPI() or Starlette()) or a WSGI app "
                          f"(app(environ, start_response), e.g. Flask() or Django's get_wsgi_application())")
    return obj


def _binds(signature: inspect.Signature | None, count: int) -> bool:
    if signature is None:  # a builtin or C callable: nothing to tell, take it
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def application_problem(obj: Any, spec: str, called: bool) -> str | None:
    """What `obj` is when it is no ASGI 3 or WSGI application (the start of a sentence), else None.

    Served with a wrong interface, it would only fail at the first request, with an error
    about the call (`cannot unpack non-iterable NoneType object`) rather than about the setting."""
    source = "the factory returned " if called else "is "
    factory_hint = "" if called else f" (if it builds the app, write {spec + '()'!r} so that it is called)"
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, list, tuple, dict, set)):
        shown = repr(obj)
        return f"{source}{shown if len(shown) <= 60 else shown[:57] + '...'}"
    if inspect.ismodule(obj):
        return f"{source}the module {obj.__name__!r}; name the application in it, e.g. '{obj.__name__}:app'"
    if inspect.isclass(obj):
        hint = "" if called else f" (an instance of it may be: {spec + '()'!r} creates one)"
        return f"{source}the class {obj.__qualname__}{hint}"
    if not callable(obj):
        return f"{source}a {type(obj).__name__}"
    try:
        signature: inspect.Signature | None = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    shown = "(...)" if signature is None else str(signature)
    described = (f"the function {getattr(obj, '__qualname__', '?')}{shown}"
                 if inspect.isfunction(obj) or inspect.ismethod(obj)
                 else f"a {type(obj).__qualname__} called with {shown}")
    if is_asgi(obj):
        return None if _binds(signature, 3) else f"{source}{described}: async, but not (scope, receive, send)"
    if _binds(signature, 2):
        return None
    if _binds(signature, 3):
        return f"{source}{described} (an ASGI app is async def)"
    return f"{source}{described}{factory_hint if _binds(signature, 0) else ''}"


def check_loopback(url: str, allow_remote: bool, key: str = "base_url") -> None:
    """Generated (and hostile) traffic goes to this machine only, unless the user says otherwise."""
    if allow_remote or is_loopback_url(url):
        return
    raise TargetError(
        f"{key} = {url!r} is not a loopback address (127.0.0.0/8, ::1 or localhost): the gates send "
        "thousands of generated, partly hostile requests, so they only target this machine unless you set "
        "allow_remote = true"
    )


def load_target(settings: ContractSettings) -> Target:
    if settings.base_url is not None:
        check_loopback(settings.base_url, settings.allow_remote)
        return Target("url", None, settings.base_url.rstrip("/"), settings.base_url)
    assert settings.app is not None
    app = load_app(settings.app)
    kind: Literal["asgi", "wsgi"] = "asgi" if is_asgi(app) else "wsgi"
    return Target(kind, served(app, kind), IN_PROCESS_BASE_URL, f"{settings.app} ({kind.upper()}, in-process)")


def bind_to_app(schema: Any, target: Target, url: str) -> None:
    """A schema document fetched from a URL, tested against the in-process app, as a local file
    is: the URL only says where the document is. Without the relative location, schemathesis
    takes the URL's host as the base URL, and its start-up probes (`GET /`, a probe path) and
    every generated case would go to that host rather than to the app."""
    schema.app = target.app
    schema.location = urlsplit(url).path or "/"


def schema_location(schema: str, rootpath: Path) -> tuple[Literal["file", "path", "url"], str]:
    """Where `schema` points: a full URL, a path on the target ('/openapi.json'), or a local file.

    A value starting with '/' is a path on the target unless it is an existing
    absolute file; anything else is a file relative to the rootdir.
    """
    if schema.startswith(("http://", "https://")):
        return "url", schema
    if schema.startswith("/") and not Path(schema).is_file():
        return "path", schema
    path = Path(schema) if Path(schema).is_absolute() else rootpath / schema
    if not path.is_file():
        raise TargetError(f"schema = {schema!r}: no such file (looked for {path})")
    return "file", str(path)
