"""What one export did: per table, the partitions written, left as they were and removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TableResult:
    name: str
    partition: str | None  # partition column; None: written whole
    partitions: int = 0
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: int = 0
    bytes: int = 0


@dataclass
class ExportResult:
    """The outcome of :func:`~amiga_analytics.export.export`: ``tables`` in export order."""

    directory: Path
    database: str
    sync_id: int | None
    seconds: float = 0.0
    tables: list[TableResult] = field(default_factory=list)

    def total(self, attribute: str) -> int:
        return sum(getattr(t, attribute) for t in self.tables)

    def summary(self) -> str:
        """A header line and one line per table, for the command line."""
        head = (f"exported {self.database} (sync {self.sync_id}) to {self.directory} in {self.seconds:.1f} s: "
                f"{len(self.tables)} tables, {self.total('partitions'):,} files ({self.total('written'):,} "
                f"written, {self.total('unchanged'):,} unchanged, {self.total('removed'):,} removed), "
                f"{self.total('rows'):,} rows, {_size(self.total('bytes'))}")
        width = max((len(t.name) for t in self.tables), default=0)
        lines = [head]
        for t in self.tables:
            by = f"by {t.partition}" if t.partition else "whole"
            lines.append(f"  {t.name:<{width}}  {by:<14} {t.partitions:>5,} files {t.written:>5,} written "
                         f"{t.removed:>4,} removed {t.rows:>10,} rows {_size(t.bytes):>9}")
        return "\n".join(lines)


def _size(n: int) -> str:
    """Bytes as B, kB or MB (powers of 1,000).

    >>> _size(999), _size(12_345), _size(3_400_000)
    ('999 B', '12.3 kB', '3.4 MB')
    """
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"
