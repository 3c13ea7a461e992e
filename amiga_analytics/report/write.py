"""Writing a report's files: ``<out_dir>/<week>/`` with report.html, report.md, the chart PNGs and one CSV per
table, each written atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from .model import WeeklyReport

__all__ = ["CHART_FILES", "FORMATS", "parse_formats", "write_files"]

FORMATS = ("html", "md", "csv")

CHART_FILES = ("cost_per_day.png", "cost_by_tool.png", "error_rate_per_day.png", "error_rates_by_tool.png",
               "throughput.png", "cycle_times.png", "subagents.png")


def write_files(report: WeeklyReport, out_dir: str | Path, formats: str | Iterable[str]) -> list[Path]:
    """Write ``report`` to ``out_dir/<week>/``; returns the files written (report.html first if written)."""
    wanted = parse_formats(formats)
    target = Path(out_dir) / report.week
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the report directory {target}: {exc.strerror or exc}") from None
    documents: list[Path] = []
    images: list[Path] = []
    tables: list[Path] = []
    if "html" in wanted or "md" in wanted:
        pngs = report.chart_pngs()
        # The charts first, so report.md never points at a missing file; a chart this week does not draw
        # (say, no sub-agent calls) is removed rather than left over from an earlier run.
        images = [_write(target / name, data) for name, data in pngs.items()]
        for name in set(CHART_FILES) - set(pngs):
            (target / name).unlink(missing_ok=True)
        if "html" in wanted:
            documents.append(_write(target / "report.html", report.to_html(pngs).encode("utf-8")))
        if "md" in wanted:
            documents.append(_write(target / "report.md", report.to_markdown().encode("utf-8")))
    if "csv" in wanted:
        tables = [_write(target / f"{name}.csv", _csv(df).encode("utf-8")) for name, df in report.tables.items()]
    return documents + images + tables


def _write(path: Path, data: bytes) -> Path:
    """Write a file atomically (a temp file renamed over it), so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _csv(df: pd.DataFrame) -> str:
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].map(lambda t: "" if pd.isna(t) else t.isoformat())
    return out.to_csv(index=False, lineterminator="\n")


def parse_formats(formats: str | Iterable[str]) -> set[str]:
    """The formats asked for (a comma-separated string or a list), checked against :data:`FORMATS`."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = {str(f).strip().lower() for f in items if str(f).strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        shown = ", ".join(unknown) if unknown else repr(formats)
        raise InputError(f"unknown report format {shown}: give a comma-separated list of {', '.join(FORMATS)}")
    return wanted
