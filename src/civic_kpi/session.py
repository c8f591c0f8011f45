"""A library session: one catalog, one data folder, one as-of moment; its methods mirror the commands."""

from __future__ import annotations
