"""The ``amiga-analytics`` command line: thin wrappers over the library.

Each command validates its arguments, calls one library function and prints the result. Library
``InputError``s (bad input the user can fix) become one line on stderr and exit status 2; ``--debug`` shows the
traceback instead. Heavy modules are imported inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import InputError

EXIT_BAD_INPUT, EXIT_ALERT = 2, 3

SINCE_HELP = ("Start, inclusive: a date, ISO time, 7d/4w ago, or today, yesterday, this-week, last-week, this-month, "
              "last-month (report timezone; weeks start on Monday).")
UNTIL_HELP = "End, exclusive: a date, ISO time or a relative period (its end)."
BOT_HELP = "Only this bot's rows, in a store of several (default: all bots)."


class _State:
    debug = False  # --debug: tracebacks instead of one-line errors


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def friendly_errors(func):
    """Turn expected failures into one line and exit status 2, unless ``--debug`` was given."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except InputError as exc:
            if _State.debug:
                traceback.print_exc()
            _fail(str(exc))
        except sqlite3.Error as exc:
            if _State.debug:
                traceback.print_exc()
            _fail(f"SQLite could not read or write a database: {exc}. If a file is damaged, restore it from a "
                  f"backup; run again with --debug for the traceback")
        except Exception as exc:
            # Anything else (unreadable files, full disks, a bug) still gets one line; --debug shows where.
            if _State.debug:
                traceback.print_exc()
            _fail(f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="amiga-analytics")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Analytics for the AMIGA bot's SQLite database.

    \b
    A typical run, from a bot database to a weekly report:
        amiga-analytics sync data/agentlab.db analytics.db
        amiga-analytics report analytics.db --out reports/
        amiga-analytics serve analytics.db
    """
    _State.debug = debug


@cli.command()
@click.argument("bot_db", type=click.Path(path_type=Path))
@click.option("--days", type=click.IntRange(1, 3650), default=28, show_default=True, help="Days of activity.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives the same rows.")
@click.option("--tz", "tz", default="Europe/Madrid", show_default=True, help="IANA zone of the simulated bot host.")
@click.option("--calls", type=click.IntRange(1), default=None, help="Logical tool calls to write (default: a busy bot).")
@click.option("--end", default=None, help="Last simulated day, YYYY-MM-DD (default: a fixed date, for repeatable output).")
@click.option("--transcripts/--no-transcripts", default=True, help="Also write Claude Code transcripts (<stem>.claude/).")
@click.option("--concurrency/--no-concurrency", default=False, help="Parallel tasks, tools, sub-agents (bot-data §8).")
@friendly_errors
def demo(bot_db: Path, **options) -> None:
    """Write a synthetic bot database, its sessions' Claude Code transcripts and their ground truth beside them.

    \b
    Example:
        amiga-analytics demo demo-bot.db --days 14 --seed 7 --tz America/Los_Angeles
        amiga-analytics sync demo-bot.db analytics.db --source-tz America/Los_Angeles --transcripts demo-bot.claude
    """
    from . import demo as demo_mod

    result = demo_mod.write_demo(bot_db, **options)  # days, seed, tz, calls, end, transcripts, concurrency
    click.echo(result.summary())


@cli.command()
@click.argument("bot_db", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the pending steps and their SQL; write nothing.")
@friendly_errors
def migrate(bot_db: Path, dry_run: bool) -> None:
    """Create or upgrade a bot database to schema v14, backing it up first.

    \b
    Example:
        amiga-analytics migrate data/agentlab.db --dry-run
    """
    from .bot import schema as bot_schema

    plan = bot_schema.migrate(bot_db, dry_run=dry_run)
    click.echo(plan.describe())


@cli.command()
@click.argument("bot_db", type=click.Path(path_type=Path))
@click.argument("analytics_db", type=click.Path(path_type=Path))
@click.option("--source-tz", default=None,
              help="IANA zone of the bot host's clock (default: the previous sync's, else this machine's, with a "
                   "warning).")
@click.option("--report-tz", default=None, help="IANA zone for days and weeks (default: the source zone).")
@click.option("--prices", type=click.Path(path_type=Path), default=None,
              help="CSV of model prices that overrides/extends the default table (see `prices`).")
@click.option("--aliases", type=click.Path(path_type=Path), default=None,
              help="CSV of alias → model id rows that overrides/extends the shipped table.")
@click.option("--default-model", default=None,
              help="Model alias or id for calls with no task (interactive CLI sessions); default: unpriced.")
@click.option("--keep-message-content", is_flag=True, help="Copy router message texts (masked); default: dropped.")
@click.option("--transcripts", "transcripts", multiple=True, type=click.Path(path_type=Path),
              help="Claude config dir (or its projects/ folder) whose session transcripts to read as the second "
                   "witness (true cost, outcomes, durations); repeatable; remembered by later syncs.")
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of loading only what changed.")
@click.option("--bot", default=None, help="Load it as this bot of a store with several (its rows only are replaced).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (no progress, no summary).")
@friendly_errors
def sync(bot_db: Path, analytics_db: Path, source_tz, report_tz, prices, aliases, default_model,
         keep_message_content, transcripts, full, bot, quiet) -> None:
    """Snapshot, normalise and load the bot database into an analytics database.

    \b
    Example:
        amiga-analytics sync data/agentlab.db analytics.db --source-tz Europe/Madrid
        amiga-analytics sync data/agentlab.db analytics.db --transcripts ~/.claude
    """
    from .load.progress import LineProgress
    from .load.sync import sync as run_sync

    progress = None if quiet else _progress_bar() if sys.stderr.isatty() else LineProgress()
    result = run_sync(bot_db, analytics_db, source_tz=source_tz, report_tz=report_tz, full=full,
                      prices=prices, aliases=aliases, default_model=default_model,
                      keep_message_content=keep_message_content, progress=progress,
                      transcripts=list(transcripts), bot=bot)
    if not quiet:
        click.echo(result.summary())
        if result.zone_warning:
            click.echo(result.zone_warning, err=True)


def _progress_bar() -> Callable[[str, int, int], None]:
    """The sync's progress callback, ``(label, done, total)``, drawn as a click progress bar on stderr."""
    bar: Any = None  # click's ProgressBar, from the first call to the last
    shown = 0

    def show(label: str, done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar, shown = click.progressbar(length=total, label=label, file=sys.stderr), 0
            if done == 0:
                return
        bar.update(done - shown)
        shown = done
        if done >= total:
            bar.render_finish()
            bar = None

    return show


def output_options(func):
    """``--format`` and its sqlite-utils-style shortcuts ``--table``, ``--csv``, ``--json``, ``--nl``."""
    func = click.option("--nl", "fmt_flag", flag_value="nl", default=None,
                        help="Newline-delimited JSON (one object a line).")(func)
    func = click.option("--json", "fmt_flag", flag_value="json", default=None, help="JSON.")(func)
    func = click.option("--csv", "fmt_flag", flag_value="csv", default=None, help="CSV, full precision.")(func)
    func = click.option("--table", "fmt_flag", flag_value="table", default=None, help="Aligned table (default).")(func)
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "nl"]), default=None,
                        help="Output format (default: table); --table/--csv/--json/--nl are shortcuts.")(func)


def _format(fmt: str | None, flag: str | None) -> str:
    if fmt and flag and fmt != flag:
        raise InputError(f"--format {fmt} and --{flag} disagree: give one of them")
    return flag or fmt or "table"


@cli.command()
@click.option("--at", default=None, help="Date YYYY-MM-DD whose table to show (default: today).")
@click.option("--model", default=None, help="Only this model id, or the model an alias (sonnet, opus, haiku) meant.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--prices", type=click.Path(path_type=Path), default=None,
              help="CSV of model prices that overrides/extends the default table (as for sync).")
@click.option("--aliases", type=click.Path(path_type=Path), default=None,
              help="CSV of alias → model id rows that overrides/extends the shipped table (as for sync).")
@friendly_errors
def prices(at, model, fmt, prices, aliases) -> None:
    """Show the prices in force on a date, where each comes from, and what the aliases meant.

    \b
    Prices come from the genai-prices package (refresh: pip install -U genai-prices), then the
    project's own rows for what it lacks or gets wrong, then your --prices file.
    \b
    Example:
        amiga-analytics prices --at 2026-08-01 --model sonnet --format csv
    """
    from .load.price_table import render
    from .load.pricing import PriceBook

    click.echo(render(PriceBook.load(prices, aliases), at=at, model=model, fmt=fmt), nl=False)


@cli.command()
@click.argument("analytics_db", type=click.Path(path_type=Path))
@click.argument("name")
@click.option("--since", default=None, help=SINCE_HELP)
@click.option("--until", default=None, help=UNTIL_HELP)
@click.option("--by", default=None, help="Group by this column (see each query's help); 'none' for one total row.")
@click.option("--freq", default=None,
              help="pandas offset alias for periods: D, W (= W-MON: weeks start on Monday), MS (months).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Rows at most, for the top-N queries.")
@click.option("--bot", default=None, help=BOT_HELP)
@output_options
@friendly_errors
def query(analytics_db: Path, name: str, since, until, by, freq, limit, bot, fmt, fmt_flag) -> None:
    """Run a query function and print its DataFrame (NAME: tool_cost, error_rates, task_throughput, ...).

    \b
    Example:
        amiga-analytics query analytics.db tool_cost --by model_id --since 2025-10-01 --format csv
    """
    from .cli_output import run_named

    text = run_named(analytics_db, name, since=since, until=until, by=by, freq=freq, limit=limit, bot=bot,
                     fmt=_format(fmt, fmt_flag))
    click.echo(text, nl=not text.endswith("\n"))


@cli.command()
@click.argument("analytics_db", type=click.Path(path_type=Path))
@click.option("--week", default=None, help="ISO week such as 2025-W42 (default: the last complete week with data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Directory; the report goes to OUT/<week>/.")
@click.option("--format", "formats", default="html,md,csv", show_default=True,
              help="Comma-separated outputs: html, md, csv (PNG charts come with html and md).")
@click.option("--daily-limit", type=float, default=None, help="Daily cost limit in USD (default: $DAILY_COST_LIMIT).")
@click.option("--monthly-limit", type=float, default=None, help="Monthly cost limit in USD (default: $MONTHLY_COST_LIMIT).")
@click.option("--datasette-url", default=None,
              help="Where the report's links to rows point (default: $AMIGA_ANALYTICS_DATASETTE_URL, else "
                   "http://127.0.0.1:8001, what `serve` uses).")
@click.option("--alert", is_flag=True, help="After writing, exit 3 with one line per breach (as `check`).")
@click.option("--bot", default=None, help=BOT_HELP + " Without it, a table per bot too.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@friendly_errors
def report(analytics_db: Path, week, out_dir: Path, formats: str, daily_limit, monthly_limit, datasette_url, alert,
           bot, quiet) -> None:
    """Write the weekly report (HTML, Markdown, CSV, PNG charts).

    \b
    Example:
        amiga-analytics report analytics.db --week 2025-W42 --out reports/
    """
    from .report import breaches, parse_formats, weekly_report

    parse_formats(formats)
    weekly = weekly_report(analytics_db, week=week, daily_limit=daily_limit, monthly_limit=monthly_limit,
                           datasette_url=datasette_url, bot=bot)
    written = weekly.write(out_dir, formats=formats)[0]
    if not quiet:
        click.echo(written)
    lines = breaches(weekly) if alert else []
    for line in lines:
        click.echo(line)
    if lines:
        sys.exit(EXIT_ALERT)


@cli.command()
@click.argument("analytics_db", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.option("--follow", "follow", type=click.Path(path_type=Path), multiple=True,
              help="Bot database to sync from in the background (again for each bot of a store of several).")
@click.option("--every", type=click.FloatRange(1), default=60, show_default=True,
              help="Seconds between background syncs (with --follow).")
@friendly_errors
def serve(analytics_db: Path, host: str, port: int, follow: tuple[Path, ...], every: float) -> None:
    """Browse the analytics database in a read-only Datasette; the dashboard is /<db>/dashboard.

    \b
    Example:
        amiga-analytics serve analytics.db --port 8001
        amiga-analytics serve analytics.db --follow data/agentlab.db --every 60
    """
    from .web.serve import serve as run_serve

    run_serve(analytics_db, host=host, port=port, follow=follow, every=every)


@cli.command()
@click.argument("analytics_db", type=click.Path(path_type=Path))
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="parquet", show_default=True, help="File format (parquet).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@friendly_errors
def export(analytics_db: Path, directory: Path, fmt: str, quiet: bool) -> None:
    """Write every table as Parquet, by day (DIR/<table>/day=YYYY-MM-DD/), rewriting only what changed.

    \b
    Example:
        amiga-analytics export analytics.db export/ --format parquet
    """
    from .export import export as run_export
    from .load.progress import LineProgress

    progress = None if quiet else _progress_bar() if sys.stderr.isatty() else LineProgress()
    result = run_export(analytics_db, directory, fmt=fmt, progress=progress)
    if not quiet:
        click.echo(result.summary())


def _usage_report(kind: str):
    """One ccusage-style report command (daily, weekly, monthly, tasks, sessions) over queries/reports.py."""
    grouped = kind in ("daily", "weekly", "monthly")

    @click.argument("analytics_db", type=click.Path(path_type=Path))
    @click.option("--since", default=None, help=SINCE_HELP)
    @click.option("--until", default=None, help=UNTIL_HELP)
    @click.option("--bot", default=None, help=BOT_HELP)
    @output_options
    @friendly_errors
    def command(analytics_db: Path, since, until, bot, fmt, fmt_flag, breakdown=False, by=None) -> None:
        from .cli_output import format_report, run_report

        df, note = run_report(kind, analytics_db, since=since, until=until, by=by, breakdown=breakdown, bot=bot)
        fmt = _format(fmt, fmt_flag)
        if note:
            click.echo(note, err=True)
        text = format_report(df, fmt) if len(df) or fmt != "table" else ""
        click.echo(text or "", nl=False)

    if grouped:
        command = click.option("--by", default=None,
                               help="Group each period by this column (tool_name, model_id, agent_type, ...).")(command)
        command = click.option("--breakdown", is_flag=True, help="One row per model in each period.")(command)
    return command


_REPORT_HELP = {
    "daily": "Usage per day: calls, tokens and cost, with a totals row.",
    "weekly": "Usage per ISO week (Monday to Sunday): calls, tokens and cost, with a totals row.",
    "monthly": "Usage per month: calls, tokens and cost, with a totals row.",
    "tasks": "The bot's tasks, most expensive first, with a totals row.",
    "sessions": "Claude sessions from transcripts (usage by session_id), else the bot's tasks; a totals row.",
}
for _kind, _help in _REPORT_HELP.items():
    cli.command(name=_kind, help=_help + "\n\n\b\nExample:\n    amiga-analytics " + _kind
                + " analytics.db --since last-week" + (" --breakdown" if _kind in ("daily", "weekly", "monthly")
                                                       else "") + " --json")(_usage_report(_kind))


@cli.command()
@click.argument("analytics_db", type=click.Path(path_type=Path))
@click.option("--week", default=None, help="ISO week to check (default: the last complete week with data).")
@click.option("--daily-limit", type=float, default=None, help="Daily cost limit in USD (default: $DAILY_COST_LIMIT).")
@click.option("--monthly-limit", type=float, default=None, help="Monthly cost limit in USD (default: $MONTHLY_COST_LIMIT).")
@click.option("--bot", default=None, help=BOT_HELP)
@friendly_errors
def check(analytics_db: Path, week, daily_limit, monthly_limit, bot) -> None:
    """Cron-safe alerts: exit 3 with one line per breach (month projected over MONTHLY_COST_LIMIT, a day over
    DAILY_COST_LIMIT, an anomaly), 0 and no output otherwise.

    \b
    Example:
        amiga-analytics check analytics.db --monthly-limit 100
    \b
    In a crontab (Mondays at 08:00; the mail goes out only on a breach):
        0 8 * * 1  amiga-analytics check analytics.db > /tmp/amiga-alert || mail -s "AMIGA alert" me < /tmp/amiga-alert
    """
    from .report import breaches, weekly_report

    lines = breaches(weekly_report(analytics_db, week=week, daily_limit=daily_limit, monthly_limit=monthly_limit,
                                   bot=bot))
    click.echo("".join(f"{line}\n" for line in lines), nl=False)
    sys.exit(EXIT_ALERT if lines else 0)
