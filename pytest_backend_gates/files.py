"""Files the plugin writes for the user (the JSON report, the latency baseline).

Written atomically (a temporary file in the same folder, renamed over the target) with the mode
an ordinary file gets, and checked before the run, so a path that cannot be written is a usage
error at the start, not a traceback at the end that loses the gate summary.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader never sees half a file; missing parents are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; the user expects what `open(path, "w")` gives: the existing
        # file's mode when it is replaced, else 0666 under the umask.
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    # os.umask can only be read by setting it; set it straight back (the gap is two syscalls).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def unwritable_reason(path: Path, example: str = "backend-gates.json") -> str | None:
    """Why `path` cannot be written as a file (None: it can, as far as can be told beforehand);
    `example`: a file name of the kind expected, shown when `path` is a directory."""
    if path.is_dir():
        return f"it is a directory; expected a file path such as {example!r}"
    if path.exists() and not path.is_file():
        return "it exists and is not a regular file"
    folder = path.parent
    while not folder.exists():  # the first folder that exists is where new ones would be made
        if folder.is_symlink():
            return f"{folder} is a broken symbolic link"
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the directory {folder} is not writable"
    try:  # root passes os.access on a read-only mount or /proc: try for real
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".backend-gates-probe.", suffix=".tmp")
    except OSError as exc:
        return f"no file can be created in {folder}: {exc.strerror or exc}"
    os.close(fd)
    os.unlink(probe)
    return None
