"""`python -m civic_kpi.cli`: the same command as the installed script."""

from civic_kpi.cli import main

main()
