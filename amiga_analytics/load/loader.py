"""The steps of one sync, inside the caller's write transaction on the analytics database.

:meth:`Loader.run` loads, in order: the model alias and price tables, the tasks' links (which calls belong to
which task), the agent events, the tool calls (merging the bot's 1-4 rows per call), the end times the rows could
not give, the tasks with their call totals, the router messages, and the daily rollups; then it records the sync,
its data quality and the state the next incremental sync starts from. A *full* load starts from an empty
database; an *incremental* one reads only bot rows past the watermarks of the last sync, plus the rows of calls
that were still open, and raises :class:`~.state.NeedsFull` when only a rebuild gives the right answer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..bot.snapshot import Snapshot
from ..store import zone_offsets
from ..store.figures import ROLLUP_SQL
from . import idle, quality, reprice, row_workers, templates
from .memo import MinuteConverter
from .merge import Call, CallMerger
from .progress import MIN_TOTAL, STEP
from .ranks import rebuild_duration_ranks
from .row_workers import CallRows
from .rows import FINAL_STATUSES, Link, RowBuilder, text_of
from .salt import user_ref_salt
from .sql import (
    CALLS_NEEDING_END_SQL,
    DELETE_CALL_SQL,
    DELETE_OPEN_ROWS_SQL,
    DELETE_ROLLUP_DAYS_SQL,
    DELETE_ROLLUPS_SQL,
    FILL_DURATION_SQL,
    FILL_END_FROM_EVENTS_SQL,
    IN_JSON,
    INSERT_EVENT_SQL,
    INSERT_MESSAGE_SQL,
    INSERT_OPEN_ROW_SQL,
    INSERT_TOOL_CALL_SQL,
    KNOWN_TASK_IDS_SQL,
    OPEN_CALLS_SQL,
    OPEN_ROW_IDS_SQL,
    TASK_FINISH_EVENTS_SQL,
    TASK_TOTALS_SQL,
    TASKS_SEEN_SQL,
    UNLINKED_SQL,
    UPSERT_TASK_SQL,
)
from .state import (
    GENAI_ROWS_KEY,
    UNKNOWN_MODELS_KEY,
    NeedsFull,
    Options,
    SyncResult,
    record_sync,
    source_identity,
    write_state,
)
from .transcripts.step import run_transcripts
from .transcripts.witness import GroupJoiner

SORT_CACHE_KIB = -8192  # the page cache while SQLite sorts a whole table (negative: KiB)


@contextmanager
def sorting(conn: sqlite3.Connection) -> Iterator[None]:
    """An 8 MB page cache while SQLite sorts whole tables (index builds, the ranks' window functions), then the
    connection's own. Each of SQLite's sorters takes memory up to the cache's size: at the sync's 32 MB the ranks
    added 122 MB to the peak of a full sync of 450,000 calls and the deferred indexes 48 MB; at 8 MB 33 and 8 MB,
    in the same time (ranks 6.5-6.8 s, indexes 3.8-4.1 s)."""
    (cache,) = conn.execute("PRAGMA cache_size").fetchone()
    conn.execute(f"PRAGMA cache_size = {SORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache)}")

BATCH = 5_000


class Loader:
    def __init__(self, conn: sqlite3.Connection, snap: Snapshot, options: Options, *, state: dict[str, Any],
                 mode: str, target: Path):
        self.conn = conn
        self.target = target
        self.snap = snap
        self.options = options
        self.book = options.book
        self.state = state
        self.mode = mode
        self.incremental = mode == "incremental"
        settings = options.settings
        self.conv = MinuteConverter(settings["source_tz"], settings["report_tz"])  # load/memo.py
        self.affected_days: set[str] = set()
        self.affected_tasks: set[str] = set()
        self.affected_groups: set[str] = set()  # task, else source id, of the calls written or removed
        self.counts = {"bot_rows_read": 0, "invalid_values": 0, "secrets_streams": 0, "ambiguous": 0,
                       "calls_written": 0, "events_read": 0, "messages_read": 0}
        self.links: dict[str, Link] = {}
        self.ambiguous_closed = 0  # calls closed with an ambiguous outcome pairing, over all syncs so far
        self.rows = RowBuilder(self.conv, self.book, user_ref_salt(), self.links, self.counts,
                               default_model=options.default_model,
                               keep_message_content=options.keep_message_content)
        self.call_rows = CallRows(self.rows, parallel=False)  # load_tool_calls: maybe a worker's (.row_workers)
        self.previous_calls: dict[int, tuple] = {}  # incremental: the stored rows of the calls being re-derived
        self.finished_tasks: set[str] = set()  # tasks with a new completed/failed/stopped event
        self.transcripts = False  # transcripts were read (or remembered) by this sync
        self.repriced = False  # the price tables changed since the last sync

    def carried(self, key: str) -> int:
        """A count the previous sync left in the state (a watermark: the last bot row id it loaded), 0 if full."""
        return int(self.state.get(key, 0)) if self.incremental else 0

    def run(self, reason: str, before_join: Callable[[], object] | None = None,
            before_rollups: Callable[[], object] | None = None) -> SyncResult:
        """The whole load, in order. A full sync passes ``before_join`` (build the indexes the end-time fill and
        the transcripts' join look calls up by) and ``before_rollups`` (build the others, once the join's UPDATEs
        are done, so those UPDATEs do not maintain them)."""
        self.write_reference_tables()
        tasks = self.load_task_links()
        self.load_agent_events()
        # Changed price or alias tables: reprice what earlier syncs loaded, in place (load/reprice.py).
        repriced = reprice.reprice_if_changed(self.conn, self.book, self.state, self.incremental)
        self.affected_days |= repriced.days
        self.affected_tasks |= repriced.task_ids
        self.repriced = bool(repriced.reason)
        self.load_tool_calls()
        templates.refresh(self.conn, self.state, incremental=self.incremental)
        if before_join is not None:
            before_join()
        joiner = self.read_transcripts()
        self.fill_end_times()
        self.join_transcripts(joiner)
        if before_rollups is not None:
            before_rollups()
        self.load_tasks(tasks)
        self.load_messages()
        self.rebuild_rollups()
        result = self.finish(reason, len(tasks))
        result.repriced = repriced.summary()
        return result

    def write_reference_tables(self) -> None:
        reprice.write_reference_tables(self.conn, self.book)

    def load_task_links(self) -> list[tuple]:
        tasks = self.snap.rows("tasks").fetchall()
        for row in tasks:
            task_id, model, agent_type, session_uuid = row[0], row[5], row[6], row[10]
            if task_id is None:
                continue
            link = (str(task_id), model, agent_type or "code_agent")
            self.links[str(task_id)] = link
            if session_uuid:
                self.links.setdefault(str(session_uuid), link)
        if self.incremental:
            known = {r[0] for r in self.conn.execute(KNOWN_TASK_IDS_SQL)}
            if known - {str(r[0]) for r in tasks}:
                raise NeedsFull("tasks were deleted from the bot database")
            ids = {"ids": json.dumps(list(self.links))}
            unlinked = sum(self.conn.execute(UNLINKED_SQL.format(table=table), ids).fetchone()[0]
                           for table in ("tool_calls", "agent_events"))
            if unlinked:
                raise NeedsFull("a new task claims calls that were loaded as CLI sessions")
        return tasks

    def load_agent_events(self) -> None:
        watermark = self.carried("agent_status_id")
        max_id = watermark
        batch = []
        events = 0
        for row in self.snap.rows("agent_status", "id > :wm", {"wm": watermark}, order="id"):
            max_id = max(max_id, row[0])
            link = self.rows.link(row[2])
            if link is not None and row[3] in FINAL_STATUSES:
                self.finished_tasks.add(link[0])
            events += 1
            batch.append(self.rows.event_row(row))
            if len(batch) >= BATCH:
                self.conn.executemany(INSERT_EVENT_SQL, batch)
                batch.clear()
        self.conn.executemany(INSERT_EVENT_SQL, batch)
        self.counts["events_read"] = events
        self.state["agent_status_id"] = max_id

    def touch(self, call_row: tuple) -> None:
        """Remember the day and task of a written or removed call: their rollups and totals are rebuilt."""
        self.affected_days.add(call_row[9])
        self.affected_tasks.add(call_row[2])
        self.affected_groups.add(call_row[2] or call_row[1])

    def write_calls(self, calls: list[Call], batch: list[tuple], *, flush: bool = False) -> None:
        """Add the rows of ``calls`` that changed to ``batch``; write the batch once it is full (or ``flush``).
        The rows are built by ``self.call_rows`` (:mod:`.row_workers`), which may hand them back a little later."""
        if not calls and not flush:
            return
        for call in calls:
            self.ambiguous_closed += call.ambiguous and not call.open
        self.call_rows.add(calls)
        for row in self.call_rows.take(flush=flush):
            old = self.previous_calls.pop(row[0], None)
            if old != row:
                self.touch(row)
                if old is not None:
                    self.touch(old)
                batch.append(row)
        if flush or len(batch) >= BATCH:
            self.conn.executemany(INSERT_TOOL_CALL_SQL, batch)
            self.counts["calls_written"] += len(batch)
            batch.clear()

    def load_tool_calls(self) -> None:
        watermark = self.carried("tool_usage_id")
        merger = CallMerger(window_missed=self.conv.bot_window_missed,
                            state=self.state.get("merger") if self.incremental else None)
        self.ambiguous_closed = self.carried("ambiguous_closed")
        reopened: list[tuple] = []
        rows_upto, nulls_upto = 0, 0
        if self.incremental:
            reopened, rows_upto, nulls_upto = self.reopen_calls(watermark)
        new_max = max(self.snap.max_id("tool_usage"), watermark)
        total = new_max - watermark + len(reopened)
        progress = self.options.progress if total > MIN_TOTAL else None
        if progress is not None:
            progress("tool_usage rows", 0, total)
        batch: list[tuple] = []
        new_rows = 0
        every = idle.EVERY_ROWS  # release the merger's idle groups this often (load/idle.py)
        with CallRows(self.rows, parallel=row_workers.worker_wanted(total)) as self.call_rows:
            for row in reopened:
                self.write_calls(merger.feed(row), batch)
            for row in self.snap.rows("tool_usage", "id > :wm", {"wm": watermark}, order="id"):
                self.write_calls(merger.feed(row), batch)
                new_rows += 1
                if new_rows % every == 0:
                    self.write_calls(idle.release(merger), batch)
                nulls_upto += row[5] is None
                if progress is not None and new_rows % STEP == 0:
                    progress("tool_usage rows", new_rows, total)
            remaining = merger.finish()
            self.write_calls(remaining, batch, flush=True)
        if progress is not None:
            progress("tool_usage rows", total, total)
        # Calls of the last sync that are gone: their rows now belong to other calls.
        for call_id, old in self.previous_calls.items():
            self.conn.execute(DELETE_CALL_SQL, {"id": call_id})
            self.touch(old)
        open_calls = [c for c in remaining if c.open]
        self.state["merger"] = merger.export_state()
        self.state["ambiguous_closed"] = self.ambiguous_closed
        self.counts["ambiguous"] = self.ambiguous_closed + sum(c.ambiguous for c in open_calls)
        self.conn.executemany(INSERT_OPEN_ROW_SQL, ((r[0], c.call_id) for c in open_calls for r in c.rows))
        self.counts["bot_rows_read"] = new_rows + len(reopened)
        self.counts["invalid_values"] += merger.invalid_success
        # What the next incremental sync checks to notice rewritten history.
        open_nulls = sum(1 for c in open_calls for r in c.rows if r[5] is None)
        self.state["tool_usage_id"] = new_max
        self.state["tool_usage_rows"] = rows_upto + new_rows
        self.state["closed_null_rows"] = nulls_upto - open_nulls

    def reopen_calls(self, watermark: int) -> tuple[list[tuple], int, int]:
        """Rows of the calls still open after the last sync, as they are now, and the (rows, NULL rows) counts up
        to the watermark; raises ``NeedsFull`` if the bot's history changed in a way only a rebuild can follow."""
        row_ids = [r[0] for r in self.conn.execute(OPEN_ROW_IDS_SQL)]
        rows = self.snap.rows("tool_usage", "id " + IN_JSON.format(name="ids"), {"ids": json.dumps(row_ids)},
                              order="id").fetchall()
        rows_upto, nulls_upto = self.snap.tool_usage_counts(watermark)
        if len(rows) != len(row_ids) or rows_upto != self.state.get("tool_usage_rows"):
            raise NeedsFull("rows were deleted from the bot's tool_usage")
        open_nulls = sum(1 for r in rows if r[5] is None)
        if nulls_upto - open_nulls != self.state.get("closed_null_rows"):
            raise NeedsFull("the bot rewrote rows of calls that were already complete")
        self.previous_calls = {row[0]: tuple(row) for row in self.conn.execute(OPEN_CALLS_SQL)}
        self.conn.execute(DELETE_OPEN_ROWS_SQL)
        return rows, rows_upto, nulls_upto

    def fill_end_times(self) -> None:
        """End times the rows could not give: the agent_status tool_call row the post-hook wrote after the start."""
        waiting = dict(self.conn.execute(CALLS_NEEDING_END_SQL).fetchall())
        self.conn.execute(FILL_END_FROM_EVENTS_SQL)
        still_waiting = {r[0] for r in self.conn.execute(CALLS_NEEDING_END_SQL)}
        filled = [call_id for call_id in waiting if call_id not in still_waiting]
        self.affected_days.update(waiting[call_id] for call_id in filled)
        self.conn.execute(FILL_DURATION_SQL, {"ids": json.dumps(filled)})

    def read_transcripts(self) -> GroupJoiner | None:
        """The transcripts (load/transcripts/step.py): read and store them, undo the join of the groups they or
        this sync's bot calls changed; nothing without transcript dirs."""
        joiner = run_transcripts(
            self.conn, self.snap, self.state, given=self.options.transcripts, incremental=self.incremental,
            previous_db=self.target, book=self.book, report_tz=self.options.settings["report_tz"],
            report_day=self.conv.report_day, link=self.rows.link, bot_groups=self.affected_groups,
            repriced=self.repriced)
        self.transcripts = joiner is not None
        return joiner

    def join_transcripts(self, joiner: GroupJoiner | None) -> None:
        """The second witness: join the groups (after the bot calls' end times are filled)."""
        if joiner is None:
            return
        for group in joiner.groups:
            joiner.join(group)
        self.affected_days |= joiner.days
        self.affected_tasks |= joiner.tasks

    def load_tasks(self, tasks: list[tuple]) -> None:
        """Upsert the tasks (in an incremental sync only those the bot changed or that just finished), then
        their call totals."""
        sql = TASK_FINISH_EVENTS_SQL.format(and_tasks="")
        params: dict = {}
        if self.incremental:
            seen = dict(self.conn.execute(TASKS_SEEN_SQL))
            tasks = [t for t in tasks if t[0] is not None and (
                str(t[0]) not in seen or seen[str(t[0])] != text_of(t[4]) or str(t[0]) in self.finished_tasks)]
            sql = TASK_FINISH_EVENTS_SQL.format(and_tasks="AND task_id " + IN_JSON.format(name="ids"))
            params = {"ids": json.dumps([str(t[0]) for t in tasks])}
        finish_events = {(t, s): at for t, s, at in self.conn.execute(sql, params)}
        records = [self.rows.task_record(t, lambda task_id, status: finish_events.get((task_id, status)))
                   for t in tasks if t[0] is not None]
        self.conn.executemany(UPSERT_TASK_SQL, records)
        if self.incremental:
            ids = [t for t in self.affected_tasks if t is not None]
            self.conn.execute(TASK_TOTALS_SQL.format(where="task_id " + IN_JSON.format(name="ids")),
                              {"ids": json.dumps(ids)})
        else:
            self.conn.execute(TASK_TOTALS_SQL.format(where="1"))

    def load_messages(self) -> None:
        watermark = self.carried("messages_id")
        max_id = watermark
        batch = []
        for row in self.snap.rows("messages", "id > :wm", {"wm": watermark}, order="id"):
            max_id = max(max_id, row[0])
            self.counts["messages_read"] += 1
            batch.append(self.rows.message_row(row))
        self.conn.executemany(INSERT_MESSAGE_SQL, batch)
        self.state["messages_id"] = max_id

    def rebuild_rollups(self) -> None:
        """The daily rollup, the duration ranks and buckets: of the days this sync touched, or of every day. A full
        sync sorts with :func:`sorting`'s small cache; an incremental one sorts only its days and keeps its cache:
        a smaller one would spill its changes into the live file before the commit, an exclusive lock that would
        keep readers out for the rest of the sync."""
        if self.incremental:
            days = json.dumps(sorted(d for d in self.affected_days if d is not None))
            self.conn.execute(DELETE_ROLLUP_DAYS_SQL, {"days": days})
            self.conn.execute(ROLLUP_SQL.format(and_days="AND day " + IN_JSON.format(name="days")), {"days": days})
            rebuild_duration_ranks(self.conn, days)
            return
        with sorting(self.conn):
            self.conn.execute(DELETE_ROLLUPS_SQL)
            self.conn.execute(ROLLUP_SQL.format(and_days=""))
            rebuild_duration_ranks(self.conn, None)

    def finish(self, reason: str, n_tasks: int) -> SyncResult:
        """Record the sync, its data quality and the state the next sync starts from; return what it did."""
        # Secrets in append-only streams (events, messages) accumulate over incremental syncs.
        stream_secrets = self.carried("secrets_streams") + self.counts["secrets_streams"]
        self.state["secrets_streams"] = stream_secrets
        unknown_models = quality.unknown_model_names(self.conn, book=self.book,
                                                     default_model=self.options.default_model)
        values = quality.measure(self.conn, self.counts, stream_secrets=stream_secrets, unknown_models=unknown_models,
                                 transcripts=self.transcripts)
        settings = self.options.settings
        sync_id = record_sync(self.conn, mode=self.mode, bot_schema_version=self.snap.version, settings=settings,
                              bot_rows_read=self.counts["bot_rows_read"], calls_written=self.counts["calls_written"])
        quality.record(self.conn, sync_id, values)
        self.state[UNKNOWN_MODELS_KEY] = unknown_models
        self.state.update({
            "settings": settings, "source_tz": settings["source_tz"], "report_tz": settings["report_tz"],
            "bot_db": self.options.bot_db, "price_files": self.options.price_files,
            "source": source_identity(self.snap),
            "bot_schema_version": self.snap.version,
            GENAI_ROWS_KEY: self.book.genai_cache,  # the next sync reuses these rows if their key still matches
        })
        write_state(self.conn, self.state)
        zone_offsets.write(self.conn, settings["report_tz"])  # the view's local times → UTC
        return SyncResult(
            analytics_db=self.target,
            mode=self.mode, reason=reason, bot_rows_read=self.counts["bot_rows_read"],
            calls_written=self.counts["calls_written"], calls=values["calls"], rows_merged=values["bot_rows_merged"],
            unknown_calls=values["calls_unknown_outcome"], calls_with_tokens=values["calls_with_tokens"],
            unpriced_tokens=values["unpriced_tokens"], secrets_masked=values["secrets_masked"], tasks=n_tasks,
            events_read=self.counts["events_read"], messages_read=self.counts["messages_read"], quality=values,
            masked=dict(self.rows.masks),
        )
