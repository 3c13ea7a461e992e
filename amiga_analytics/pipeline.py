"""The main job end to end, and the embedded demo database.

``python -m amiga_analytics.pipeline`` is what ``make report`` runs: take the bot database given with
``--bot-db`` (or write the demo one), sync it into ``BUILD/analytics.db``, and write the weekly report of the
last complete week.

:func:`demo_analytics` is the embedded default for notebooks and examples: a demo bot database and its
analytics database, created on first use in a cache directory (``$AMIGA_ANALYTICS_CACHE``, else
``~/.cache/amiga-analytics``) and reused afterwards.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .errors import InputError

DEMO_SEED = 42
DEMO_DAYS = 28
DEMO_TZ = "Europe/Madrid"


def cache_dir() -> Path:
    """Where the embedded demo lives: ``$AMIGA_ANALYTICS_CACHE``, else ``~/.cache/amiga-analytics``."""
    base = os.environ.get("AMIGA_ANALYTICS_CACHE") or Path.home() / ".cache" / "amiga-analytics"
    return Path(base)


def demo_bot_database(directory: Path | None = None) -> Path:
    """The demo bot database (written once, then reused): 4 weeks of a busy bot on a Europe/Madrid host."""
    from .demo import write_demo

    directory = Path(directory) if directory is not None else cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-bot.db"
    if not path.exists():
        write_demo(path, days=DEMO_DAYS, seed=DEMO_SEED, tz=DEMO_TZ)
    return path


def demo_analytics(directory: Path | None = None) -> Path:
    """The analytics database of the demo, synced on first use.

    >>> import amiga_analytics as aa
    >>> path = aa.demo_analytics()
    >>> path.name
    'demo-analytics.db'
    """
    from .sync import sync

    bot = demo_bot_database(directory)
    path = bot.with_name("demo-analytics.db")
    if not path.exists():
        sync(bot, path, source_tz=DEMO_TZ)
    return path


def database_from_env() -> Path:
    """The analytics database named by ``$AMIGA_DB``, else the embedded demo (created on first use)."""
    named = os.environ.get("AMIGA_DB")
    if named and Path(named).exists():
        return Path(named)
    return demo_analytics()


def run(build_dir: Path, bot_db: Path | None = None, source_tz: str | None = None, echo=click.echo) -> Path:
    """Demo (or ``bot_db``) → sync → weekly report; returns the path of report.html."""
    from .report import write_report
    from .sync import sync

    build_dir.mkdir(parents=True, exist_ok=True)
    if bot_db is None:
        bot_db = demo_bot_database(build_dir)
        source_tz = DEMO_TZ
        echo(f"no BOT_DB given: using the demo bot database {bot_db}")
    analytics = build_dir / "analytics.db"
    result = sync(bot_db, analytics, source_tz=source_tz)
    echo(result.summary())
    written = write_report(analytics, out_dir=build_dir / "reports")
    return written


@click.command()
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build"))
@click.option("--bot-db", type=click.Path(path_type=Path), default=None)
@click.option("--source-tz", default=None)
def main(build_dir: Path, bot_db: Path | None, source_tz: str | None) -> None:
    """demo (or --bot-db) → sync → weekly report, as `make report` runs it."""
    try:
        report_html = run(build_dir, bot_db, source_tz)
    except InputError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"report: {report_html}")


if __name__ == "__main__":  # pragma: no cover
    main()
