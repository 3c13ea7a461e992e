"""Removing what the new manifest does not name: partitions no longer in the database, tables no longer exported,
and the temporary files of an interrupted export. Only the export's own kinds of file are touched (``*.parquet``
and its temporary names in the table folders, the manifest's temporary name at the top); anything else a user
put in the directory stays."""

from __future__ import annotations

import re
from pathlib import Path

_TEMP = re.compile(r"^\..+\.\d+\.tmp$")


def _ours(path: Path) -> bool:
    return path.suffix == ".parquet" or bool(_TEMP.match(path.name))


def remove_strays(directory: Path, keep: set[str], tables: set[str]) -> dict[str, int]:
    """Delete the Parquet and temporary files under ``directory/<table>`` (for each of ``tables``) whose path
    relative to ``directory`` is not in ``keep``, then the partition folders left empty. Returns the Parquet
    files removed per table."""
    removed: dict[str, int] = {}
    for entry in directory.iterdir():
        if entry.is_file() and _TEMP.match(entry.name):
            entry.unlink(missing_ok=True)
    for name in sorted(tables):
        root = directory / name
        if not root.is_dir() or root.is_symlink():
            continue
        for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_file() and _ours(path) and path.relative_to(directory).as_posix() not in keep:
                path.unlink()
                if path.suffix == ".parquet":
                    removed[name] = removed.get(name, 0) + 1
            elif path.is_dir() and "=" in path.name and not any(path.iterdir()):
                path.rmdir()
        if not any(root.iterdir()):
            root.rmdir()
    return removed
