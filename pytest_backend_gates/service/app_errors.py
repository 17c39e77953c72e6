"""What an in-process app raised while answering a request, described by the app's own frame.

The wrappers (serving.py) record what escapes the app; a framework that answers the 500
itself is heard through its log record (Connexion, Django, uvicorn) or its signal (Flask,
Django). Kept by request id (`AppErrors`), so a finding can say what raised and where.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_backend_gates.location import PACKAGE_DIR
from pytest_backend_gates.service.in_flight import current_request

_MAX_KEPT = 2048


@dataclass(frozen=True)
class Raised:
    """An exception the app raised while answering one request."""

    type: str  # "IntegrityError"
    message: str  # first line of str(exc)
    place: str  # "app/items.py:42", the app's own frame ("" if none)
    function: str  # "update_item"
    own_frame: bool  # False: no frame of the app's own code; `place` is the library's

    def text(self) -> str:
        head = f"{self.type}: {self.message}" if self.message else self.type
        if not self.place:
            return head
        return f"{head} at {self.place} in {self.function}" + ("" if self.own_frame else " (library code)")

    def to_data(self) -> dict[str, Any]:
        return {"exception": self.type, "at": self.place, "function": self.function}


def _is_library(filename: str) -> bool:
    return (filename.startswith(PACKAGE_DIR) or "site-packages" in filename or "dist-packages" in filename
            or filename.startswith(("<", sys.base_prefix + "/lib", sys.prefix + "/lib")))


def describe_raised(exc: BaseException, root: Path | None = None) -> Raised:
    """The exception and the deepest frame of the app's own code it passed through: never
    a frame of this plugin, of the standard library or of an installed package.

    When the exception passed through no frame of the app (a framework's error handler failing
    while it handled the app's exception), the exception it was handling is the cause: that one
    is named, with its own frame."""
    cause: BaseException | None = exc
    while cause is not None:
        frames = traceback.extract_tb(cause.__traceback__)
        own = [f for f in frames if not _is_library(f.filename)]
        if own:
            return _raised(cause, own[-1], own=True, root=root)
        cause = cause.__cause__ or cause.__context__
    frames = traceback.extract_tb(exc.__traceback__)
    frame = next((f for f in reversed(frames) if not f.filename.startswith(PACKAGE_DIR)), None)
    return _raised(exc, frame, own=False, root=root)


def _raised(exc: BaseException, frame: traceback.FrameSummary | None, *, own: bool, root: Path | None) -> Raised:
    place = ""
    if frame is not None:
        path = Path(frame.filename)
        try:  # relative to the rootdir (the working directory by default, pytest's usually)
            shown = str(path.resolve().relative_to((root or Path.cwd()).resolve()))
        except (ValueError, OSError):
            shown = path.name
        place = f"{shown}:{frame.lineno}"
    # A database library's wrapper says what the driver said on some line of its own (SQLAlchemy
    # puts "(raised as a result of Query-invoked autoflush ...)" first): the driver's words.
    original = getattr(exc, "orig", None)
    text = str(original if isinstance(original, BaseException) else exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return Raised(type=type(exc).__name__, message=lines[0][:300] if lines else "", place=place,
                  function=frame.name if frame is not None else "", own_frame=own)


class AppErrors:
    """What an app raised, by request id; bounded, thread-safe.

    Described when recorded: a framework may clear or rewrite a traceback once it has logged it
    (Connexion). A request can record several (Flask's signal for the app's own 404 exception,
    then the error handler that failed on it): the one that escaped the app wins, else the last."""

    def __init__(self) -> None:
        self._errors: OrderedDict[str, list[tuple[Raised, bool]]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, request_id: str | None, exc: BaseException, escaped: bool = False) -> None:
        if request_id is None:
            return
        raised = describe_raised(exc)
        with self._lock:
            seen = self._errors.setdefault(request_id, [])
            if len(seen) < 8 and (raised, escaped) not in seen:
                seen.append((raised, escaped))
            while len(self._errors) > _MAX_KEPT:
                self._errors.popitem(last=False)

    def get(self, request_id: str | None) -> Raised | None:
        with self._lock:
            return _best(self._errors.get(request_id or ""))

    def pop(self, request_id: str | None) -> Raised | None:
        with self._lock:
            return _best(self._errors.pop(request_id or "", None))


def _best(seen: list[tuple[Raised, bool]] | None) -> Raised | None:
    if not seen:
        return None
    return next((raised for raised, escaped in reversed(seen) if escaped), seen[-1][0])


class _LoggedErrors(logging.Handler):
    """Frameworks that answer a 500 themselves log the exception (Connexion, Django's
    `django.request`, uvicorn): a record with exc_info during a served request is its error."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.targets: list[AppErrors] = []

    def emit(self, record: logging.LogRecord) -> None:
        request_id = current_request.get()
        if request_id is None or not record.exc_info or record.exc_info[1] is None:
            return
        for errors in self.targets:
            errors.record(request_id, record.exc_info[1])


_LOG_HANDLER = _LoggedErrors()


def watch_logs(errors: AppErrors) -> None:
    if not _LOG_HANDLER.targets:
        logging.getLogger().addHandler(_LOG_HANDLER)
    _LOG_HANDLER.targets.append(errors)


def watch_signals(app: Any, errors: AppErrors) -> None:
    """Flask's and Django's `got_request_exception`: sent while the exception is handled."""
    def record_current(*args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exception") or sys.exc_info()[1]
        if exc is not None:
            errors.record(current_request.get(), exc)

    flask = sys.modules.get("flask")
    if flask is not None:
        # Connexion's FlaskApp (ASGI) keeps the Flask app it wraps in `.app`.
        for candidate in (app, getattr(app, "app", None)):
            if isinstance(candidate, flask.Flask):
                flask.got_request_exception.connect(record_current, candidate, weak=False)
    django_signals = sys.modules.get("django.core.signals")
    if django_signals is not None or "django" in type(app).__module__:
        # Imported only for a Django app (an optional framework, not ours to load).
        from django.core.signals import (
            got_request_exception,
            request_finished,
            request_started,
        )
        from django.db import close_old_connections

        got_request_exception.connect(record_current, weak=False, dispatch_uid=f"backend-gates-{id(errors)}")
        # As Django's own test client does: a request must not close the connection that holds a
        # test's transaction, or the in-memory test database (pytest-django's) with it.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)

