"""Regenerate the sample data in this folder (deterministic: two runs give byte-identical files).

The generator itself ships with the package (civic_kpi/starter/sample_data.py), so that `civic-kpi init --example`
can write the same files anywhere; this script runs it here. Usage: python sample_data/generate.py (from anywhere).
"""

from pathlib import Path

from civic_kpi.starter.sample_data import generate

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    generate(here)
    print(f"sample data written to {here}")
