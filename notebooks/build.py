"""Build the numbered notebooks in this folder from the cells written below.

    python notebooks/build.py            # write every notebook
    python notebooks/build.py --check    # exit 1 if a committed notebook differs from what this script builds

Edit a notebook here, not in Jupyter, then run the script and commit both; ``tests/test_notebooks.py`` fails
when the committed ``.ipynb`` files and this script disagree. Notebooks are written without outputs, with
stable cell ids and the ``python3`` kernel, so the same script always gives byte-identical files.

Rules every notebook follows: a markdown cell first, saying what question it answers; only the public API
(``import amiga_analytics as aa`` and the chart functions of ``amiga_analytics.charts``); the database from
``aa.database_from_env()`` (``$AMIGA_DB``, else the embedded demo, created on first use); one idea per cell.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> dict:
    return {"cell_type": "markdown", "source": textwrap.dedent(text).strip("\n")}


def code(text: str, *, tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "source": textwrap.dedent(text).strip("\n"), "tags": list(tags)}


# Cells shared by every notebook -------------------------------------------------------------------------------

SETUP = code("""
    import amiga_analytics as aa
    from amiga_analytics import charts
""")

DATABASE = code("""
    db = aa.database_from_env()
    print(f"analytics database: {db}")
""")

DATABASE_TEXT = md("""
    The notebook reads the analytics database named by the `AMIGA_DB` environment variable; without one it uses
    the embedded demo (four weeks of a busy synthetic bot), created on first use. `00_quickstart` shows how to
    sync your own bot.
""")


# 00 -----------------------------------------------------------------------------------------------------------

QUICKSTART = [
    md("""
        # Quickstart: what did the bot cost, how often did its tools fail, and how many tasks did it finish?

        The three headline questions about an AMIGA bot, each answered by one function that returns a pandas
        DataFrame with documented columns: `aa.tool_cost`, `aa.error_rates` and `aa.task_throughput`. One chart
        each, then pointers to the notebooks that go deeper.
    """),
    SETUP,
    md("""
        ## Which database

        Notebooks never read the bot's live `data/agentlab.db`. They read an *analytics database*: a cleaned,
        deduplicated, priced copy that `aa.sync` (or `amiga-analytics sync`) writes from a consistent read-only
        snapshot of the bot database.

        `aa.database_from_env()` returns the analytics database named by `AMIGA_DB` when that file exists;
        otherwise the embedded demo: a synthetic bot database of four busy weeks, synced on first use into
        `$AMIGA_ANALYTICS_CACHE` (default `~/.cache/amiga-analytics`) and reused afterwards.
    """),
    DATABASE,
    md("""
        ### Syncing your own bot

        Set `BOT_DB` to your bot's `data/agentlab.db` to sync it here into `analytics.db` (next to this notebook).
        The bot's file is only read, and the bot can keep writing while the sync runs; the next sync loads only
        the new rows. `SOURCE_TZ` is the time zone of the bot host's clock, because the bot writes naive local
        times. From a shell, the same is `amiga-analytics sync data/agentlab.db analytics.db --source-tz
        Europe/Madrid`; then start Jupyter with `AMIGA_DB=analytics.db` and every notebook uses it.
    """),
    code("""
        BOT_DB = None      # e.g. "/srv/amiga/data/agentlab.db"; None: keep the database above
        SOURCE_TZ = None   # e.g. "Europe/Madrid"; None: the zone of this machine

        if BOT_DB is not None:
            result = aa.sync(BOT_DB, "analytics.db", source_tz=SOURCE_TZ)
            print(result.summary())
            db = result.analytics_db
    """),
    md("""
        ## How far to trust the figures

        Each sync records data-quality counts: how many bot rows were merged into one logical call, how many
        calls never got an outcome, how many tokens no price covers, how many secrets were masked.
    """),
    code("""
        aa.data_quality(db)
    """),
    md("""
        ## 1. Cost by model: `aa.tool_cost`

        Logical tool calls, the calls that carry token counts, tokens by kind, `cost_usd` and `unpriced_tokens`
        (tokens no price covers, counted but never priced at $0). It groups by tool unless `by=` names another
        column (`model_id`, `agent_type`, `outcome`, `task_id`) or `None` for one total row. Here by model: the bot
        records tokens almost only for `Task` calls (sub-agents), so by tool nearly all the cost sits on one row.
    """),
    code("""
        cost = aa.tool_cost(db, by="model_id")
        cost
    """),
    code("""
        ax = charts.plot_cost_by(cost, by="model_id")
    """),
    md("""
        ## 2. Error rates by tool: `aa.error_rates`

        Each call's outcome is `success`, `failure` or `unknown` (no completion was ever recorded).
        `error_rate = failed / completed` leaves the unknown calls out; they have their own column.
    """),
    code("""
        errors = aa.error_rates(db)
        errors
    """),
    md("""
        The chart leaves out tools with fewer than 20 completed calls, whose rate is mostly noise.
    """),
    code("""
        ax = charts.plot_error_rates(errors, by="tool_name", min_completed=20)
    """),
    md("""
        ## 3. Tasks per day: `aa.task_throughput`

        Tasks created per day, and tasks that reached `completed`, `failed` or `stopped` that day, with the success
        rate (`completed / (completed + failed)`) and the median and 90th-percentile cycle time in seconds.
    """),
    code("""
        throughput = aa.task_throughput(db, freq="D")
        throughput
    """),
    code("""
        ax = charts.plot_throughput(throughput)
    """),
    md("""
        ## Windows and periods

        Every query takes `since` (inclusive) and `until` (exclusive): dates, ISO strings, timestamps, or `"7d"` /
        `"4w"` for that long ago. `freq` adds a leading `period_start` per day (`"D"`), ISO week (`"W-MON"`) or month
        (`"MS"`), in the report time zone of the database. Here: the cost of each week.
    """),
    code("""
        aa.tool_cost(db, by=None, freq="W-MON")
    """),
    md("""
        ## Where next

        - `01_tool_costs.ipynb`: cost by tool, model and task, cache savings, the price tables and how to override them
        - `02_error_rates.ipynb`: error rates by tool and category over time, top errors, calls with unknown outcome
        - `03_task_throughput.ipynb`: throughput, cycle time, success rate by agent type
        - `04_weekly_report.ipynb`: the weekly report, for any week

        Every query function is also a shell command: `amiga-analytics query analytics.db tool_cost --by model_id`.
    """),
]


# 01 -----------------------------------------------------------------------------------------------------------

TOOL_COSTS = [
    md("""
        # Tool costs: where does the money go?

        What the bot's tool calls cost by tool, model, agent type, task and week; what prompt caching saved; the
        pricing assumptions behind every dollar; and how to change them with your own price and alias tables.
    """),
    SETUP,
    code("""
        import shutil
        import tempfile
        from pathlib import Path

        import pandas as pd
    """),
    DATABASE_TEXT,
    DATABASE,
    md("""
        ## What a dollar here means

        Cost is tokens × the list price of the model that served them, on the day of the call. Two limits of the
        bot's data shape every figure below:

        - The bot records tokens almost only for `Task` calls (sub-agents) and never for the main agent's own
          turns, so these costs are a **lower bound** of what the bot spent. `calls_with_tokens` says how many calls
          carry tokens at all.
        - The bot stores model *aliases* (`sonnet`, `haiku`, `opus`). The sync resolves each to the model the alias
          meant on that day. Calls of interactive Claude Code sessions have no task and no model, so their tokens
          are `unpriced_tokens`: counted, never priced at $0.
    """),
    code("""
        aa.tool_cost(db, by=None)
    """),
    md("""
        ## By tool

        Nearly all the priced tokens sit on `Task` calls, the only tool whose response reports usage (with a few
        `WebFetch` calls). A row none of whose tokens is priced has `cost_usd` NaN, never $0: `labelled` below
        shows why instead (no tokens recorded, or only unpriced tokens).
    """),
    code("""
        def labelled(df: pd.DataFrame) -> pd.DataFrame:
            \"\"\"cost_usd as text for reading: dollars, or why there is no cost (never $0).\"\"\"
            out = df.copy()
            why = ["(unpriced: no model)" if "model_id" in df and pd.isna(m) else "(unpriced)" if u else "(no tokens)"
                   for m, u in zip(df["model_id"] if "model_id" in df else [None] * len(df), df["unpriced_tokens"])]
            out["cost_usd"] = [f"${v:,.4f}" if pd.notna(v) else w for v, w in zip(df["cost_usd"], why)]
            return out


        labelled(aa.tool_cost(db, by="tool_name"))
    """),
    md("""
        ## By model

        `model_id` is the dated model the alias resolved to. The row with no model (NaN) holds the interactive
        sessions' calls: their tokens are unpriced.
    """),
    code("""
        by_model = aa.tool_cost(db, by="model_id")
        labelled(by_model)
    """),
    code("""
        ax = charts.plot_cost_by(by_model, by="model_id")
    """),
    md("""
        ## By agent type

        The task's agent type; `cli_session` marks the calls of interactive Claude Code sessions.
    """),
    code("""
        aa.tool_cost(db, by="agent_type")
    """),
    md("""
        ## Over time

        Cost per day, then per ISO week and model (one column per model).
    """),
    code("""
        ax = charts.plot_cost_per_day(aa.tool_cost(db, by=None, freq="D"))
    """),
    code("""
        weekly = aa.tool_cost(db, by="model_id", freq="W-MON")
        weekly.pivot_table(index="period_start", columns="model_id", values="cost_usd", aggfunc="sum")
    """),
    md("""
        ## The most expensive tasks

        `aa.task_cost` lists tasks by the priced cost of their tool calls, sub-agents included.
    """),
    code("""
        aa.task_cost(db, limit=10)
    """),
    md("""
        ## What caching saved

        Cache-read and cache-write tokens priced as plain input tokens versus at the cache prices. The bot's hook
        reads the wrong keys for cache tokens, so most calls record none (bot-data §3.3): the real savings are
        larger than shown here. The row with no model holds the interactive sessions' cached tokens, which have no
        price.
    """),
    code("""
        aa.cache_savings(db, by="model_id")
    """),
    md("""
        ## Router (web-chat) cost

        The web chat's Haiku router writes its own token counts, outside the tool calls. The weekly report adds this
        to the total cost.
    """),
    code("""
        aa.router_usage(db)
    """),
    md("""
        ## The pricing assumptions

        The sync copies the price and alias tables it used into the analytics database (tables `model_prices` and
        `model_aliases`), so the figures above can always be traced to a price. Prices are USD per million tokens,
        each row in effect from `effective_from` until the next row of the same model. Assumptions to know:

        - cache writes are priced at the 5-minute rate (the bot keeps one cache-write column, with no 5-minute /
          1-hour split);
        - long-context (> 200k tokens) requests cost more, and the bot's data cannot show them;
        - an alias means the newest model of its family from that model's release day, as Claude Code does: if your
          host pinned a model (say with `ANTHROPIC_MODEL`), override the alias table.
    """),
    code("""
        analytics = aa.connect(db)
        prices = pd.DataFrame(analytics["model_prices"].rows)
        prices
    """),
    code("""
        aliases = pd.DataFrame(analytics["model_aliases"].rows)
        aliases
    """),
    md("""
        ## Overriding prices and aliases

        Give the sync CSV files with the same columns as the tables above:

        - prices: `model_id, effective_from, input_usd_per_mtok, output_usd_per_mtok, cache_write_5m_usd_per_mtok,
          cache_write_1h_usd_per_mtok, cache_read_usd_per_mtok, source`
        - aliases: `alias, effective_from, model_id, source`

        A row with the same key as a shipped row (`model_id` and `effective_from`, or `alias` and `effective_from`)
        replaces it; any other row is added. From a shell:
        `amiga-analytics sync data/agentlab.db analytics.db --prices my-prices.csv --aliases my-aliases.csv`.
        (The tokens of interactive sessions, which have no model, can be priced with `--default-model sonnet`.)

        Here, two made-up examples go into a temporary folder: a negotiated Sonnet 4.5 price from 13 October 2025,
        and a host that kept `haiku` on Claude 3.5 Haiku after Haiku 4.5 came out.
    """),
    code("""
        workdir = Path(tempfile.mkdtemp(prefix="amiga-pricing-"))
    """),
    code("""
        my_prices = pd.DataFrame([{
            "model_id": "claude-sonnet-4-5-20250929", "effective_from": "2025-10-13",
            "input_usd_per_mtok": 2.40, "output_usd_per_mtok": 12.00, "cache_write_5m_usd_per_mtok": 3.00,
            "cache_write_1h_usd_per_mtok": 4.80, "cache_read_usd_per_mtok": 0.24,
            "source": "example: negotiated rate, 20% off list",
        }])
        my_prices.to_csv(workdir / "my-prices.csv", index=False)
        print((workdir / "my-prices.csv").read_text())
    """),
    code("""
        my_aliases = pd.DataFrame([{
            "alias": "haiku", "effective_from": "2025-10-15", "model_id": "claude-3-5-haiku-20241022",
            "source": "example: our host pins haiku to Claude 3.5 Haiku",
        }])
        my_aliases.to_csv(workdir / "my-aliases.csv", index=False)
        print((workdir / "my-aliases.csv").read_text())
    """),
    md("""
        ### Re-sync into a temporary analytics database

        The override needs the bot database the analytics database came from. Set `BOT_DB` to the one your
        `AMIGA_DB` was synced from; by default the demo's bot database is used, compared with the demo's analytics
        database. The new sync reads the bot's clock zone from the earlier one (the `syncs` table), and writes only
        into the temporary folder.
    """),
    code("""
        BOT_DB = None  # the bot database AMIGA_DB was synced from; None: the embedded demo

        if BOT_DB is None:
            bot_db, baseline = aa.demo_bot_database(), aa.demo_analytics()
        else:
            bot_db, baseline = Path(BOT_DB), db
    """),
    code("""
        with aa.connect(baseline) as base:
            source_tz, report_tz = base.execute(
                "SELECT source_tz, report_tz FROM syncs ORDER BY sync_id DESC LIMIT 1").fetchone()

        result = aa.sync(bot_db, workdir / "analytics-override.db", source_tz=source_tz, report_tz=report_tz,
                         prices=workdir / "my-prices.csv", aliases=workdir / "my-aliases.csv")
        print(result.summary())
    """),
    md("""
        ### What changed

        Cost by model with the shipped tables and with the override. The Sonnet 4.5 calls from 13 October on are
        cheaper, and the `haiku` calls from 15 October move from Haiku 4.5 to Claude 3.5 Haiku.
    """),
    code("""
        before = aa.tool_cost(baseline, by="model_id")[["model_id", "calls", "cost_usd"]]
        after = aa.tool_cost(result.analytics_db, by="model_id")[["model_id", "calls", "cost_usd"]]
        change = before.merge(after, on="model_id", how="outer", suffixes=("_shipped", "_override"))
        change = change.fillna({"calls_shipped": 0, "calls_override": 0,
                                "cost_usd_shipped": 0.0, "cost_usd_override": 0.0})
        change = change.astype({"calls_shipped": "int64", "calls_override": "int64"})
        change["cost_change_usd"] = change["cost_usd_override"] - change["cost_usd_shipped"]
        change
    """),
    md("""
        A sync whose tables differ from the previous sync's re-prices everything from scratch, so pass the same
        files to every sync of a database: a later sync without them goes back to the shipped tables.
    """),
    code("""
        shutil.rmtree(workdir)
    """),
]


# 02 -----------------------------------------------------------------------------------------------------------

ERROR_RATES = [
    md("""
        # Error rates: which tools fail, how, and is it getting better?

        Error rates by tool and by error category, over the days and weeks; the most frequent errors; and the calls
        whose outcome is unknown, and why the bot's data has them.
    """),
    SETUP,
    DATABASE_TEXT,
    DATABASE,
    md("""
        ## What counts as an error

        The bot decides, not the tool: after a call, its post-tool hook looks for an error in the tool's response
        (an `error` field, or a line with `error:`, `exception:`, `failed:`, `traceback` or `fatal:`). A Bash command
        that exits non-zero without such text counts as a success. `error_rate` is `failed / completed`, where
        `completed` excludes the calls whose outcome is unknown.
    """),
    code("""
        aa.error_rates(db, by=None)
    """),
    md("""
        ## By tool
    """),
    code("""
        errors = aa.error_rates(db, by="tool_name")
        errors
    """),
    code("""
        ax = charts.plot_error_rates(errors, by="tool_name", min_completed=20)
    """),
    md("""
        ## By category

        The bot files each failure under the first category whose words appear in the error text
        (`permission_error`, `file_not_found`, `timeout`, `syntax_error`, `network_error`, `git_error`,
        `validation_error`, `resource_error`, `command_not_found`), else `unknown_error`. Each category's error rate
        is 1 by definition; what matters is its share of the failures. The NaN row holds the calls that did not fail.
    """),
    code("""
        by_category = aa.error_rates(db, by="error_category").dropna(subset=["error_category"])
        by_category.assign(share_of_failures=by_category["failed"] / by_category["failed"].sum())
    """),
    md("""
        ## Over time

        The daily error rate of all tools together.
    """),
    code("""
        daily = aa.error_rates(db, by=None, freq="D")
        ax = charts.plot_error_rate_per_day(daily)
    """),
    md("""
        Per ISO week, for the tools with the most failures: one column per tool.
    """),
    code("""
        weekly = aa.error_rates(db, by="tool_name", freq="W-MON")
        worst = errors["tool_name"].head(6).tolist()
        worst_weekly = weekly[weekly["tool_name"].isin(worst)]
        worst_weekly.pivot(index="period_start", columns="tool_name", values="error_rate")[worst]
    """),
    md("""
        Failures per ISO week and category.
    """),
    code("""
        by_week = aa.error_rates(db, by="error_category", freq="W-MON").dropna(subset=["error_category"])
        by_week.pivot(index="period_start", columns="error_category", values="failed")
    """),
    md("""
        ## The most frequent errors

        By tool and error template (the error text with paths, quoted values, ids and numbers replaced, so that the
        errors of one kind form one group), with the bot's category and each group's share of the failures. The
        `example_error` column holds the latest (masked) text of each group; it is left out here.
    """),
    code("""
        aa.top_errors(db, limit=10).drop(columns=["example_error"])
    """),
    md("""
        ## Calls whose outcome is unknown, and why

        The bot records a tool call in two steps. Just before the tool runs, a *pre-hook* writes a row that says
        "this tool started" and has no outcome yet. When the tool has finished, a *post-hook* fills in that row's
        outcome, error text and tokens. The bot's monitoring server, which runs bot tasks, records both steps a
        second time, so one call usually leaves three rows: the pre-hook's, the server's copy that the post-hook
        completes, and a third completed row from the server. When the post-hook cannot find the row it should
        complete, it adds a new completed row instead, which makes two or four. The sync merges all of these back
        into one *logical call* and takes its outcome from the completed rows.

        A call is `unknown` when no completed row was ever written: the post-hook never ran. That happens when the
        call was still running when the database was read, when the session was killed or stopped in the middle of
        the call (a timeout, a dead process, a user's stop), and, since Claude Code runs the post-hook only for
        tools that finished normally, when the tool failed, was denied or was interrupted. So some unknown calls
        are hidden failures. That is why `error_rate` leaves them out instead of counting them as successes, and why
        the `unknown` column belongs next to it.
    """),
    md("""
        How many bot rows the sync read and merged, and how many calls it left with no outcome:
    """),
    code("""
        quality = aa.data_quality(db)
        quality[quality["check_name"].isin(["bot_rows_read", "bot_rows_merged", "calls", "calls_unknown_outcome"])]
    """),
    md("""
        The share of unknown outcomes per tool, for the tools with at least 20 calls:
    """),
    code("""
        busy = errors[errors["calls"] >= 20]
        busy.assign(unknown_share=busy["unknown"] / busy["calls"]).sort_values("unknown_share", ascending=False)
    """),
    md("""
        Where the unknown calls sit: by the status of the task that made them. Calls of tasks that were stopped or
        are still running are more often unknown; calls with no task come from interactive Claude Code sessions.
    """),
    code("""
        n_tasks = int(aa.task_throughput(db, freq=None)["created"].iloc[0])
        status = aa.task_cost(db, limit=max(n_tasks, 1))[["task_id", "status"]]
        by_task = aa.error_rates(db, by="task_id").merge(status, on="task_id", how="left")
        by_task["status"] = by_task["status"].where(by_task["task_id"].notna(), "(no task: CLI session)")
        by_status = by_task.groupby("status")[["calls", "unknown"]].sum()
        by_status.assign(unknown_share=by_status["unknown"] / by_status["calls"])
    """),
]


# 03 -----------------------------------------------------------------------------------------------------------

THROUGHPUT = [
    md("""
        # Task throughput: how many tasks does the bot finish, how long do they take, and which agent types succeed?

        Tasks created and finished per day and week, the cycle time from creation to the end, and the success rate
        of each agent type.
    """),
    SETUP,
    code("""
        import matplotlib.pyplot as plt
        import pandas as pd
    """),
    DATABASE_TEXT,
    DATABASE,
    md("""
        ## Definitions

        - `created` counts tasks by the day they were created; `completed`, `failed` and `stopped` count tasks by the
          day they reached that final status, and `finished` is their sum.
        - `success_rate = completed / (completed + failed)`: a task the user stopped is neither a success nor a
          failure.
        - Cycle time is `finished_at − created_at` in seconds, queue time included.
    """),
    code("""
        aa.task_throughput(db, freq=None)
    """),
    md("""
        ## Per day
    """),
    code("""
        daily = aa.task_throughput(db, freq="D")
        daily
    """),
    code("""
        ax = charts.plot_throughput(daily)
    """),
    md("""
        ## Per ISO week
    """),
    code("""
        aa.task_throughput(db, freq="W-MON")
    """),
    md("""
        ## One row per task

        `aa.task_cost` returns each task with its status, agent type, cycle time and cost. Its `limit` is set to the
        number of tasks so that none is left out.
    """),
    code("""
        n_tasks = int(aa.task_throughput(db, freq=None)["created"].iloc[0])
        tasks = aa.task_cost(db, limit=max(n_tasks, 1))
        finished = tasks[tasks["status"].isin(["completed", "failed", "stopped"])]
        finished.head()
    """),
    md("""
        ## Cycle time

        The distribution is long-tailed, hence the log axis; the lines mark the median and the 90th percentile.
    """),
    code("""
        ax = charts.plot_cycle_times(finished)
    """),
    code("""
        finished.groupby("status")["cycle_s"].describe(percentiles=[0.5, 0.9])
    """),
    md("""
        ## Success rate by agent type

        No query function groups tasks by agent type, so this counts the finished tasks above.
    """),
    code("""
        agent = finished["agent_type"].fillna("(none)")
        by_agent = pd.crosstab(agent, finished["status"])
        by_agent = by_agent.reindex(columns=["completed", "failed", "stopped"], fill_value=0)
        by_agent["finished"] = by_agent.sum(axis=1)
        by_agent["success_rate"] = by_agent["completed"] / (by_agent["completed"] + by_agent["failed"])
        by_agent["median_cycle_s"] = finished.groupby(agent)["cycle_s"].median()
        by_agent["cost_usd"] = finished.groupby(agent)["cost_usd"].sum()
        by_agent = by_agent.rename_axis(index="agent_type", columns=None).sort_values("finished", ascending=False)
        by_agent
    """),
    md("""
        The counts add up to `aa.task_throughput`'s totals:
    """),
    code("""
        counts = ["completed", "failed", "stopped", "finished"]
        pd.DataFrame({"summed by agent type": by_agent[counts].sum(),
                      "task_throughput": aa.task_throughput(db, freq=None)[counts].iloc[0]})
    """),
    md("""
        No chart function draws this one, so plain matplotlib, in the colours of the others:
    """),
    code("""
        rate = by_agent["success_rate"].sort_values() * 100
        fig, ax = plt.subplots(figsize=charts.FIGSIZE, layout="constrained")
        ax.barh(rate.index, rate.to_numpy(), color=charts.COLORS["good"])
        ax.set(xlim=(0, 100), xlabel="success rate (%)", title="Task success rate by agent type");
    """),
    md("""
        ## Sub-agents the tasks delegate to

        Inside a task, the agent hands work to sub-agents with the `Task` tool; their calls, failures and cost:
    """),
    code("""
        subagents = aa.subagent_usage(db)
        subagents
    """),
    code("""
        ax = charts.plot_subagent_usage(subagents, value="calls")
    """),
]


# 04 -----------------------------------------------------------------------------------------------------------

WEEKLY_REPORT = [
    md("""
        # The weekly report: how did the bot do this week, compared with the week before?

        The same report that `amiga-analytics report` writes for cron, shown in the notebook: headline figures
        week over week, charts, the breakdowns behind them, anomalies and data quality.

        The next cell holds the parameters (tagged `parameters`, so papermill can set them:
        `papermill 04_weekly_report.ipynb out.ipynb -p week 2025-W42`). `week` is an ISO week such as
        `"2025-W42"` or a date in the week; `None` takes the last complete week with data. Set `out_dir` to a folder
        to also write the report there as HTML, Markdown, PNG and CSV.
    """),
    code("""
        week = None
        out_dir = None
    """, tags=("parameters",)),
    SETUP,
    code("""
        from datetime import timedelta

        from IPython.display import Image, display
    """),
    DATABASE_TEXT,
    DATABASE,
    md("""
        ## Gather the report

        `aa.weekly_report` returns a `WeeklyReport`: the report's tables as DataFrames at full precision.
    """),
    code("""
        report = aa.weekly_report(db, week=week)
        print(f"Weekly report {report.week}: Monday {report.start} to Sunday {report.end - timedelta(days=1)} "
              f"({report.timezone}), compared with {report.previous_week}")
        for note in report.notes:
            print("Note:", note)
    """),
    md("""
        ## Headline

        Each metric this week and the week before (USD, counts, fractions, seconds), the change, and whether it is
        better or worse.
    """),
    code("""
        report.headline
    """),
    md("""
        ## Charts

        The report's charts, as PNGs (the report week is shaded in the daily charts).
    """),
    code("""
        for name, png in report.chart_pngs().items():
            display(Image(data=png, width=480))
    """),
    md("""
        ## Cost by model
    """),
    code("""
        report.cost_by_model
    """),
    md("""
        ## Error rates by tool
    """),
    code("""
        report.error_rates_by_tool
    """),
    md("""
        ## Top errors
    """),
    code("""
        report.top_errors
    """),
    md("""
        ## Tasks per day
    """),
    code("""
        report.throughput_per_day
    """),
    md("""
        ## Anomalies

        Days of the week whose cost, calls or error rate lie far from the 28 days before them (robust z-score).
    """),
    code("""
        report.anomalies
    """),
    md("""
        ## Data quality
    """),
    code("""
        report.data_quality
    """),
    md("""
        ## Write it

        With `out_dir` set, the report goes to `out_dir/<week>/`: `report.html`, `report.md`, the charts and one CSV
        per table, as `amiga-analytics report analytics.db --week 2025-W42 --out reports` does.
    """),
    code("""
        if out_dir is not None:
            for path in report.write(out_dir):
                print(path)
    """),
]


NOTEBOOKS: dict[str, list[dict]] = {
    "00_quickstart.ipynb": QUICKSTART,
    "01_tool_costs.ipynb": TOOL_COSTS,
    "02_error_rates.ipynb": ERROR_RATES,
    "03_task_throughput.ipynb": THROUGHPUT,
    "04_weekly_report.ipynb": WEEKLY_REPORT,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` as a NotebookNode: no outputs, stable cell ids, the python3 kernel."""
    stem = name.split("_", 1)[0]
    cells = []
    for i, spec in enumerate(NOTEBOOKS[name]):
        if spec["cell_type"] == "markdown":
            cell = new_markdown_cell(spec["source"])
        else:
            cell = new_code_cell(spec["source"])
            if spec["tags"]:
                cell.metadata["tags"] = list(spec["tags"])
        cell.id = f"nb{stem}-{i:02d}"
        cells.append(cell)
    nb = new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The exact text of the notebook file ``name``."""
    text = nbformat.writes(build(name))
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed notebook is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python notebooks/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
