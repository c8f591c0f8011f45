"""Real database servers for the SQL engines' tests, started by the tests themselves and stopped after them.

PostgreSQL: Debian's server binaries (`apt-get install postgresql`; .ci/run installs them), a fresh cluster in a
temporary folder, reached through a Unix socket only (no TCP port to collide with another worker or service). As
root, the cluster runs as the `postgres` user the Debian package creates: PostgreSQL refuses to run as root.
Outside CI a missing server skips its tests with the reason; in CI it fails them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def postgres_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A connection string to a PostgreSQL server of its own, with an empty database `postgres`."""
    reason = "the PostgreSQL engine's tests need psycopg (pip install 'civic-kpi[postgres]')"
    pytest.importorskip("psycopg", reason=reason)
    binaries = postgres_binaries()
    if binaries is None:
        _unavailable("no PostgreSQL server here: apt-get install postgresql")
    assert binaries is not None
    # Under /tmp, not pytest's own temporary folder: the postgres user must reach the socket's folder.
    folder = Path(tempfile.mkdtemp(prefix="civic-kpi-pg-"))
    data = folder / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            _unavailable("running as root without runuser, and PostgreSQL refuses to run as root")
        run_as = ["runuser", "-u", "postgres", "--"]
        folder.chmod(0o755)
        shutil.chown(folder, "postgres")

    def run(*command: str) -> None:
        done = subprocess.run([*run_as, *command], capture_output=True, text=True, check=False, cwd=folder)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "civic", "-E", "UTF8", "--no-sync",
        "--locale=C")  # fmt: skip
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c full_page_writes=off -p 5432"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    try:
        yield f"host={folder} port=5432 user=civic dbname=postgres"
    finally:
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_ready() -> None:
    """A local Spark session, started once per test process (the engine finds it as the active session)."""
    pytest.importorskip("pyspark", reason="the Spark engine's tests need pyspark (pip install 'civic-kpi[spark]')")
    if shutil.which("java") is None:
        _unavailable("no Java runtime here, which Spark needs: apt-get install default-jre-headless")
    from civic_kpi.engine.sql.spark_engine import spark_session

    spark_session()


@pytest.fixture(scope="session")
def spark_connect_ready() -> None:
    """What a Spark Connect session needs here: PySpark's connect client (gRPC) and Java for its local server."""
    from importlib.util import find_spec

    if find_spec("pyspark") is None or find_spec("grpc") is None or find_spec("pandas") is None:
        _unavailable("Spark Connect's client is not installed: pip install 'pyspark[connect]'")
    if shutil.which("java") is None:
        _unavailable("no Java runtime here, which Spark needs: apt-get install default-jre-headless")
