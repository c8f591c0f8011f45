"""The installed `civic-kpi` script's entry point: a Ctrl-C while the CLI's modules load ends like one later."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from civic_kpi.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; no output was written\n")
        sys.exit(130)  # ExitCode.INTERRUPTED, not imported: errors.py may be the module being loaded
    run()
