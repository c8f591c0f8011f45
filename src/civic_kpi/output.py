"""Writing result files atomically: a crash or an error never leaves a partial file behind."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from civic_kpi.errors import Problem, UsageError


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    Renaming within one directory is atomic, so readers (and a second run writing the same file) only ever see
    the old complete file or the new complete one.
    """
    write_atomic_with(path, lambda handle: handle.write(text))


def write_atomic_with(path: str | Path, fill: Callable[[TextIO], object]) -> None:
    """As `write_atomic`, with `fill` writing the text to the open file piece by piece (a run's rows one at a
    time), so that the whole text is never held in memory."""

    def write(temp: Path) -> None:
        with temp.open("w", encoding="utf-8", newline="") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())

    replace_atomic(path, write)


def _destination(path: Path) -> tuple[Path, int]:
    """The file to replace (a symbolic link's target, so the link stays a link) and the mode the new file gets."""
    target = Path(os.path.realpath(path))
    try:
        status = os.stat(target)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return target, 0o666 & ~umask  # the mode a plain open() would give a new file
    except OSError as exc:
        raise UsageError(Problem(f"cannot use the output path: {exc.strerror or exc}", file=str(path))) from None
    if stat.S_ISDIR(status.st_mode):
        raise UsageError(Problem("output path is a directory", file=str(path), hint="give a file name"))
    if not stat.S_ISREG(status.st_mode):
        # Renaming over a device, a FIFO or a socket would delete it and leave a regular file in its place.
        raise UsageError(
            Problem(
                "output path exists and is not a regular file (a device, a FIFO or a socket)",
                file=str(path),
                hint="give the path of a file; to print the results, leave out --output",
            )
        )
    return target, stat.S_IMODE(status.st_mode)


def replace_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Let `write` fill a temporary file beside `path` (a Polars sink, say), then rename it over `path`.

    An existing file keeps its permission bits; through a symbolic link, the link's target is replaced. On an error
    or an interrupt the temporary file is removed and `path` is left as it was.
    """
    target, mode = _destination(Path(path))
    if not target.parent.is_dir():
        raise UsageError(Problem("output directory does not exist", file=str(target.parent), hint="create it first"))
    temp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        temp = Path(name)
        os.close(fd)
        write(temp)
        os.chmod(temp, mode)  # mkstemp makes 0600
        os.replace(temp, target)
        temp = None
    except OSError as exc:
        raise UsageError(
            Problem(
                f"cannot write the output: {exc.strerror or exc}",
                file=str(path),
                hint=None if temp else "choose a writable folder",
            )
        ) from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
