"""Running steps and reporting them: each step in its own transaction with its ``schema_version`` row, and the
plan (:class:`MigrationPlan`) that says what ran or, on a dry run, what would run, with its SQL.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from .steps import Step

# Statements worth showing in a plan (the rest are sqlite-utils' own PRAGMA/SELECT look-ups).
WRITE_KEYWORDS = ("CREATE", "ALTER", "INSERT", "DELETE", "UPDATE", "DROP")
RECORD_VERSION_SQL = "INSERT INTO schema_version (version, applied_at) VALUES (:version, :applied_at)"
FORGET_VERSION_SQL = "DELETE FROM schema_version WHERE version = :version"


@dataclass
class PlannedStep:
    """A step as planned or run: its version, name, one-line description and the SQL it writes with."""

    version: int | None
    name: str
    description: str
    sql: list[str] = field(default_factory=list)


@dataclass
class MigrationPlan:
    """What :func:`migrate` did, or would do with ``dry_run=True``."""

    path: Path
    from_version: int
    to_version: int
    steps: list[PlannedStep] = field(default_factory=list)
    backup_path: Path | None = None
    dry_run: bool = False
    created: bool = False

    def describe(self) -> str:
        """Human-readable summary: versions, steps (with their SQL on a dry run), backup or "nothing written"."""
        if not self.steps:
            return f"{self.path}: already at v{self.to_version}, nothing to do"
        start = "new database" if self.created else f"v{self.from_version}"
        lines = [f"{self.path}: {start} -> v{self.to_version}, {len(self.steps)} steps"]
        for step in self.steps:
            label = f"v{step.version}" if step.version is not None else "--"
            lines.append(f"  {label:<4} {step.name}: {step.description}")
            if self.dry_run:
                lines.extend(textwrap.indent(sql, " " * 7) for sql in step.sql)
        if self.dry_run:
            lines.append("dry run: nothing written")
        elif self.created:
            lines.append(f"created {self.path}")
        else:
            lines.append(f"backup: {self.backup_path}")
        return "\n".join(lines)


def _render(sql: str, parameters: object) -> str:
    text = textwrap.dedent(sql).strip()
    if isinstance(parameters, dict) and parameters:
        text += "  -- " + ", ".join(f"{key}={value!r}" for key, value in parameters.items())
    return text


def apply_steps(db: Database, steps: list[Step], *, applied_at: str | None = None) -> list[PlannedStep]:
    """Run ``steps`` in order, each in its own transaction with its ``schema_version`` row; return what ran."""
    done: list[PlannedStep] = []
    previous: int | None = None
    written: list[str] = []

    def trace(statement: str, parameters: object) -> None:
        if statement.lstrip().upper().startswith(WRITE_KEYWORDS):
            written.append(_render(statement, parameters))

    for step in steps:
        written = []
        with db.tracer(trace), db.atomic():
            schema_version = db.table("schema_version")
            if not schema_version.exists():
                schema_version.create({"version": int, "applied_at": str}, pk="version", not_null={"applied_at"})
            step.fn(db)
            if step.version is not None:
                db.execute(RECORD_VERSION_SQL, {"version": step.version,
                                                "applied_at": applied_at or datetime.now().isoformat()})
                if previous is not None:
                    db.execute(FORGET_VERSION_SQL, {"version": previous})
                previous = step.version
        done.append(PlannedStep(step.version, step.name, step.description, written))
    return done
