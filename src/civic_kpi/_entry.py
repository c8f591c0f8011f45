"""The installed `civic-kpi` script's entry point: a Ctrl-C while the CLI's modules load ends like one later, and a
finished command exits without tearing the interpreter down."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import NoReturn


def main() -> None:
    try:
        from civic_kpi.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; no output was written\n")
        sys.exit(130)  # ExitCode.INTERRUPTED, not imported: errors.py may be the module being loaded
    code: object = 0
    try:
        run()
    except SystemExit as exc:
        code = exc.code
    leave(code)


def leave(code: object) -> NoReturn:
    """Exit with `code` as sys.exit would, skipping the interpreter's finalization. Once a command is done, its
    output written and closed, freeing every object of a thousand modules one by one (Polars' frames, pydantic's
    schemas) took 0.1 to 0.2 s more before the shell got its prompt back, on every command. What must still happen
    does: the threads still running are joined (the dashboard's drawing thread, which first drops the charts still
    queued) and the functions registered with atexit run, and stdout and stderr are flushed. A Ctrl-C in that last
    moment leaves with the command's code: its work is done."""
    import atexit

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)  # CPython's; elsewhere, the normal way out
    if run_exit_functions is None:
        sys.exit(code)  # type: ignore[arg-type]
    try:
        # As the interpreter would, in its order: join the threads still running (concurrent.futures shuts its
        # pools down there, so no worker process is left waiting on a queue for ever), then the atexit functions.
        join_threads = getattr(threading, "_shutdown", None)
        if join_threads is not None:
            join_threads()
        run_exit_functions()
        if code is not None and not isinstance(code, int):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.write(f"{code}\n")  # as sys.exit prints a message and exits 1
            code = 1
        for stream in (sys.stdout, sys.stderr):
            # A closed pipe or a full disk: the command has said so already, and its code says it. A stream the
            # shell closed (`>&-`) is None.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
    except KeyboardInterrupt:
        code = code if isinstance(code, int) else 1
    os._exit(code or 0)
