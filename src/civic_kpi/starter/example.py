"""`civic-kpi init --example`: the bundled catalog and its sample data, written to a folder anywhere.

The package carries the catalog and the deterministic generator of the data, not the 10 MB of files: the generator
writes them byte for byte as they are in the repository (a test compares). Everything is written into a temporary
folder beside the target and renamed into place at the end, so an interrupted run leaves no half an example.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

from civic_kpi.errors import Problem, UsageError

CATALOG = "kpi_definitions.yaml"
SCHEMA = "kpi_definitions.schema.json"


def write_example(folder: str | Path) -> Path:
    """Write the example into `folder` (which must not exist, or be empty) and return it."""
    from civic_kpi.catalog.model import json_schema_text
    from civic_kpi.starter.sample_data import generate

    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(
            Problem(
                "already exists" + (" and is not empty" if target.is_dir() else " and is not a folder"),
                file=str(target),
                hint="name a new folder: civic-kpi init --example my-example",
            )
        )
    if not target.parent.is_dir():
        raise UsageError(Problem("the folder to write it in does not exist", file=str(target.parent)))
    packaged = resources.files("civic_kpi.starter") / "example"
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (building / CATALOG).write_bytes((packaged / CATALOG).read_bytes())
        (building / SCHEMA).write_text(json_schema_text(), encoding="utf-8")
        generate(building / "sample_data")
        (building / "sample_data" / "README.md").write_bytes((packaged / "README.md").read_bytes())
        if target.exists():
            target.rmdir()  # empty, as checked above
        building.rename(target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target
