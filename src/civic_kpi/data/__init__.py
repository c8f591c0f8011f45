"""Data sources: files and globs, CSV / Parquet / JSON, typed parsing, SLA deadlines, validation and profiling."""
