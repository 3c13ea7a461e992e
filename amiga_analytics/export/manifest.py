"""The export directory's manifest (``DIR/manifest.json``): what was written, from which sync, with row counts and a
checksum per partition; and the checks that make a directory an export (or refuse it).

The manifest is written last, atomically, when every file it names is in place. Its ``tables`` map each table to
its partition column, its columns and types, its row count and its ``partitions``: for each, the ``path``
(relative to DIR), ``rows``, ``bytes``, ``sha256`` (of the file: ``sha256sum`` checks it), ``sync_id`` (the last
sync of the database when the file was written) and ``digest`` (of the rows as read from the database: what the
next export compares to know whether the partition changed).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from .arrow import fsync_dir

MANIFEST = "manifest.json"
LOCK = ".amiga-export.lock"
FORMAT = "amiga-analytics export"
VERSION = 1


def empty_manifest(file_format: str, **header: Any) -> dict[str, Any]:
    """A manifest naming no file; ``header`` keys come before ``tables``."""
    return {"format": FORMAT, "version": VERSION, "file_format": file_format, **header, "tables": {}}


def render(manifest: dict[str, Any]) -> str:
    """The manifest as JSON text, one line per partition (readable, and small beside the data)."""
    head = {k: v for k, v in manifest.items() if k != "tables"}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + [' "tables": {']
    tables = list(manifest["tables"].items())
    for t, (name, entry) in enumerate(tables):
        lines.append(f"  {json.dumps(name)}: {{")
        for key, value in entry.items():
            if key != "partitions":
                lines.append(f"   {json.dumps(key)}: {json.dumps(value)},")
        parts = entry.get("partitions", [])
        lines.append('   "partitions": [' + ("" if parts else "]"))
        lines += [f"    {json.dumps(p)}" + ("," if i < len(parts) - 1 else "") for i, p in enumerate(parts)]
        if parts:
            lines.append("   ]")
        lines.append("  }" + ("," if t < len(tables) - 1 else ""))
    return "\n".join(lines + [" }", "}", ""])


def read_manifest(directory: Path, file_format: str) -> dict[str, Any] | None:
    """The manifest of the export in ``directory``; None if ``directory`` does not exist or is empty. An
    InputError (nothing changed) for anything that is not an export this version can update."""
    if not directory.exists():
        return None
    if not directory.is_dir():
        raise InputError(f"{directory} is a file, not a directory: give a new or empty directory, or an earlier "
                         f"export's")
    path = directory / MANIFEST
    if not path.exists():
        if any(entry.name != LOCK for entry in directory.iterdir()):
            raise InputError(f"{directory} is not empty and holds no export ({MANIFEST} is missing): give a new or "
                             f"empty directory, or an earlier export's")
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path} cannot be read ({exc}): give a new or empty directory, or an intact "
                         f"export's") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{path} is not the manifest of an amiga-analytics export: give a new or empty directory, "
                         f"or an earlier export's")
    if manifest.get("version") != VERSION:
        raise InputError(f"{path} is an export of format version {manifest.get('version')}; this amiga-analytics "
                         f"writes version {VERSION}: export to a new directory")
    if manifest.get("file_format") != file_format:
        raise InputError(f"{directory} holds a {manifest.get('file_format')} export, not {file_format}: give "
                         f"another directory")
    if not isinstance(manifest.get("tables"), dict):
        raise InputError(f"{path} is damaged (no tables): export to a new directory")
    return manifest


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` atomically (temporary name, flushed, renamed over the old one)."""
    final = directory / MANIFEST
    temp = final.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(render(manifest))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(directory)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the export directory's lock: one export writes a directory at a time."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another export is writing {directory}: wait for it to finish") from None
        yield
    finally:
        os.close(fd)
