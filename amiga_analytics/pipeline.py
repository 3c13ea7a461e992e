"""The main job end to end: what ``make report`` runs.

``python -m amiga_analytics.pipeline`` takes the bot database given with ``--bot-db`` (or writes the demo one into
the build directory, with its sessions' Claude Code transcripts), syncs it into ``BUILD/analytics.db`` and writes
the weekly report of the last complete week. The demo's transcripts are always read, so its report shows the real
cost; with ``--bot-db``, only the ``--transcripts`` directories given (``TRANSCRIPTS=`` in make) and those an
earlier sync of ``BUILD/analytics.db`` remembers.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from .demo.embedded import DEMO_TZ, demo_bot_database, demo_transcripts
from .errors import InputError

def run(build_dir: Path, bot_db: Path | None = None, source_tz: str | None = None, echo=click.echo,
        transcripts: list[Path] | None = None) -> Path:
    """Demo (or ``bot_db``) → sync (with ``transcripts``; the demo's own for the demo) → weekly report; returns
    the path of report.html. Bad input raises ``InputError`` and leaves no directory the run made."""
    made = _missing_ancestor(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(build_dir, bot_db, source_tz, echo, list(transcripts or []))
    except InputError:
        if made is not None:  # bad input changes no file: the directories this run made go again
            shutil.rmtree(made, ignore_errors=True)
        raise


def _missing_ancestor(path: Path) -> Path | None:
    """The outermost directory of ``path`` (itself included) that does not exist yet, or None."""
    made = None
    for p in (path, *path.parents):
        if p.exists():
            break
        made = p
    return made


def _run(build_dir: Path, bot_db: Path | None, source_tz: str | None, echo, transcripts: list[Path]) -> Path:
    from .report import write_report
    from .load.sync import sync

    if bot_db is None:
        bot_db = demo_bot_database(build_dir)
        transcripts = [demo_transcripts(build_dir), *transcripts]
        source_tz = DEMO_TZ
        echo(f"no BOT_DB given: using the demo bot database {bot_db} and its transcripts {transcripts[0]}")
    analytics = build_dir / "analytics.db"
    result = sync(bot_db, analytics, source_tz=source_tz, transcripts=transcripts)
    echo(result.summary())
    written = write_report(analytics, out_dir=build_dir / "reports")
    return written


@click.command()
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build"))
@click.option("--bot-db", type=click.Path(path_type=Path), default=None)
@click.option("--source-tz", default=None)
@click.option("--transcripts", "transcripts", multiple=True, type=click.Path(path_type=Path),
              help="Claude config dir (or its projects/ folder) to read as the second witness; repeatable.")
def main(build_dir: Path, bot_db: Path | None, source_tz: str | None, transcripts: tuple[Path, ...]) -> None:
    """demo (or --bot-db) → sync → weekly report, as `make report` runs it."""
    try:
        report_html = run(build_dir, bot_db, source_tz, transcripts=list(transcripts))
    except InputError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"report: {report_html}")


if __name__ == "__main__":  # pragma: no cover
    main()
