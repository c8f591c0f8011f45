"""Writing result files atomically: a crash or an error never leaves a partial file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from civic_kpi.errors import Problem, UsageError


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    Renaming within one directory is atomic, so readers (and a second run writing the same file) only ever see
    the old complete file or the new complete one.
    """

    def write(temp: Path) -> None:
        with temp.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    replace_atomic(path, write)


def replace_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Let `write` fill a temporary file beside `path` (a Polars sink, say), then rename it over `path`."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(Problem("output path is a directory", file=str(target), hint="give a file name"))
    if not target.parent.is_dir():
        raise UsageError(Problem("output directory does not exist", file=str(target.parent), hint="create it first"))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UsageError(
            Problem(f"cannot write here: {exc.strerror or exc}", file=str(target), hint="choose a writable folder")
        ) from None
    os.close(fd)
    try:
        write(Path(temp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UsageError(Problem(f"cannot write the output: {exc.strerror or exc}", file=str(target))) from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
