"""The sync's transcripts, streamed: what the reader finds goes, a batch at a time, into temporary tables of the
sync's own connection, and only the deduplicated rows are moved into ``api_requests`` and ``tool_uses`` at the
end. Memory holds one batch and what the reader carries anyway (file offsets, agent links, prompt digests,
working directories), never every request or tool_use of every file.

SQLite applies the rules of :mod:`.collect` (the in-memory :class:`~.collect.TranscriptSet` the library API
keeps), so the rows are the same:

- a request copy replaces the staged copy of its key ``(message_id, request_id)`` when
  :func:`~.collect._better` would say so: a larger token total; on a tie a line of its own over a progress-line
  copy, then the first in reading order ``(file index, byte offset)`` (the UPSERT's ``WHERE``);
- a tool_use or tool_result replaces the staged one only when that one is a progress-line copy and the new one
  is not; the first sighting's position (``seq``) stays, so the rows come out in the in-memory order.
"""

from __future__ import annotations

import sqlite3

from ...timeutil import format_utc
from ..pricing import PriceBook
from .collect import TranscriptSet, resolve_spawns
from .cost import Rates, rates_for, request_cost
from .join import bot_parameters
from .persist import (
    FILL_USE_MODEL_SQL,
    INSERT_USE_HEAD_SQL,
    UPDATE_AGENT_SQL,
    USE_COLUMNS,
    USE_CONFLICT_SQL,
    late_results,
)
from .records import RequestCopy, ToolResult, ToolUse
from .rows import REQUEST_COLUMNS, TaskIndex, _day
from .store import INSERT_REQUEST_HEAD_SQL, LINK_AGENT_SQL, REQUEST_CONFLICT_SQL

BATCH = 2000  # copies held before they are written

_REQUEST = tuple(c for c in REQUEST_COLUMNS if c not in ("task_id", "parent_tool_use_id"))
_REQUEST_STAGED = _REQUEST + ("total", "wrapped", "file_index", "line_offset")
_USE_STAGED = ("tool_use_id", "seq", "session_id", "agent", "tool_name", "parameters", "secrets_masked", "use_at",
               "message_id", "request_id", "wrapped")
_RESULT_STAGED = ("tool_use_id", "seq", "result_at", "kind", "agent_id", "wrapped")
_TABLES = {
    "stage_requests": f"{', '.join(_REQUEST_STAGED)}, PRIMARY KEY (message_id, request_id)",
    "stage_uses": f"{', '.join(_USE_STAGED)}, PRIMARY KEY (tool_use_id)",
    "stage_results": f"{', '.join(_RESULT_STAGED)}, PRIMARY KEY (tool_use_id)",
    "stage_tasks": "session_id PRIMARY KEY, task_id",  # session → the task that claims it
    "stage_links": "session_id, agent, tool_use_id",  # (session, sub-agent) → the Task call that spawned it
    "stage_spawned": "tool_use_id PRIMARY KEY, agent_id",  # Task call → the sub-agent it spawned
}
CREATE_STAGE_SQL = [f"CREATE TEMP TABLE {name} ({columns})" for name, columns in _TABLES.items()]
CREATE_STAGE_SQL.append("CREATE INDEX temp.stage_links_key ON stage_links (agent, session_id)")
DROP_STAGE_SQL = [f"DROP TABLE IF EXISTS temp.{name}" for name in _TABLES]


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...], keep: tuple[str, ...], where: str) -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key + keep)
    return (f"INSERT INTO temp.{table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})\n"
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}\nWHERE {where}")


STAGE_REQUEST_SQL = _upsert("stage_requests", _REQUEST_STAGED, ("message_id", "request_id"), (), """\
excluded.total > stage_requests.total OR (excluded.total = stage_requests.total AND (
    (stage_requests.wrapped AND NOT excluded.wrapped)
    OR (excluded.wrapped = stage_requests.wrapped
        AND (excluded.file_index, excluded.line_offset) < (stage_requests.file_index, stage_requests.line_offset))))""")
STAGE_USE_SQL = _upsert("stage_uses", _USE_STAGED, ("tool_use_id",), ("seq",),
                        "stage_uses.wrapped AND NOT excluded.wrapped")
STAGE_RESULT_SQL = _upsert("stage_results", _RESULT_STAGED, ("tool_use_id",), ("seq",),
                           "stage_results.wrapped AND NOT excluded.wrapped")

RESULT_LINKS_SQL = """SELECT u.session_id, r.agent_id, r.tool_use_id
FROM temp.stage_results r JOIN temp.stage_uses u ON u.tool_use_id = r.tool_use_id
WHERE r.agent_id IS NOT NULL AND r.agent_id <> '' ORDER BY r.seq"""
STAGED_SESSIONS_SQL = """SELECT session_id FROM temp.stage_requests WHERE session_id <> ''
UNION SELECT session_id FROM temp.stage_uses WHERE session_id <> ''"""
COUNT_STAGED_REQUESTS_SQL = "SELECT count(*) FROM temp.stage_requests"
INSERT_STAGE_TASK_SQL = "INSERT INTO temp.stage_tasks VALUES (?, ?)"
INSERT_STAGE_LINK_SQL = "INSERT INTO temp.stage_links VALUES (?, ?, ?)"
INSERT_STAGE_SPAWNED_SQL = "INSERT OR REPLACE INTO temp.stage_spawned VALUES (?, ?)"

_REQUEST_FROM = {"task_id": "t.task_id", "parent_tool_use_id": "l.tool_use_id"}
# UPSERT_REQUEST_SQL with a SELECT of the staged rows (in time order, as request_rows sorts them) in place of
# its VALUES; the conflict clause is the same, so rows stored by earlier syncs merge the same way.
MOVE_REQUESTS_SQL = (
    INSERT_REQUEST_HEAD_SQL
    + f"\nSELECT {', '.join(_REQUEST_FROM.get(c, 's.' + c) for c in REQUEST_COLUMNS)}\n"
    """FROM temp.stage_requests s LEFT JOIN temp.stage_tasks t ON t.session_id = s.session_id
LEFT JOIN temp.stage_links l ON l.agent = s.agent AND l.session_id IS s.session_id
WHERE true ORDER BY COALESCE(s.requested_at, ''), s.message_id, s.request_id\n"""
    + REQUEST_CONFLICT_SQL
)
_USE_FROM = {"task_id": "t.task_id", "result_at": "r.result_at", "result": "COALESCE(r.kind, 'none')",
             "agent_id": "sp.agent_id", "model_id": "q.model_id"}
# tool_use_rows' order: by time (none last), ties in the order the tool_uses were first read.
MOVE_USES_SQL = (
    INSERT_USE_HEAD_SQL
    + f"\nSELECT {', '.join(_USE_FROM.get(c, 'u.' + c) for c in USE_COLUMNS)}\n"
    """FROM temp.stage_uses u LEFT JOIN temp.stage_results r ON r.tool_use_id = u.tool_use_id
LEFT JOIN temp.stage_tasks t ON t.session_id = u.session_id
LEFT JOIN temp.stage_spawned sp ON sp.tool_use_id = u.tool_use_id
LEFT JOIN temp.stage_requests q ON q.message_id = COALESCE(u.message_id, '') AND q.request_id = u.request_id
WHERE true ORDER BY u.use_at IS NULL, u.use_at, u.seq\n"""
    + USE_CONFLICT_SQL
)
LATE_RESULTS_SQL = """SELECT tool_use_id, result_at, kind FROM temp.stage_results
WHERE tool_use_id NOT IN (SELECT tool_use_id FROM temp.stage_uses) ORDER BY seq"""
STAGED_GROUPS_SQL = """SELECT COALESCE(NULLIF(t.task_id, ''), NULLIF(s.session_id, ''), '')
FROM temp.stage_requests s LEFT JOIN temp.stage_tasks t ON t.session_id = s.session_id
UNION SELECT COALESCE(NULLIF(t.task_id, ''), NULLIF(u.session_id, ''), '')
FROM temp.stage_uses u LEFT JOIN temp.stage_tasks t ON t.session_id = u.session_id"""


def _utc(ts) -> str | None:
    return None if ts is None else format_utc(ts)


class Stage:
    """The sink :func:`~.records.extract` feeds during a sync: requests, tool_uses and results to the temporary
    tables; agent links, notes and prompt digests to ``found`` (the reader's carried state)."""

    def __init__(self, conn: sqlite3.Connection, found: TranscriptSet, book: PriceBook, report_tz: str):
        self.conn, self.found, self.book, self.report_tz = conn, found, book, report_tz
        self.requests: list[tuple] = []
        self.uses: list[tuple] = []
        self.results: list[tuple] = []
        self.seq = 0  # sightings of tool_uses and results, in reading order
        self.request_lines = 0
        self._rates: dict[tuple, Rates | None] = {}
        for sql in DROP_STAGE_SQL + CREATE_STAGE_SQL:
            conn.execute(sql)

    # -- the sink -------------------------------------------------------------------------------------------------
    def add_request(self, copy: RequestCopy) -> None:
        self.found.counts["request_lines" if not copy.wrapped else "progress_request_lines"] += 1
        self.request_lines += 1
        ts = copy.timestamp
        key = (copy.model_id, _day(ts, "UTC"))
        if key not in self._rates:
            self._rates[key] = rates_for(self.book, *key)
        cost, unpriced = request_cost(self._rates[key], copy)
        self.requests.append((
            copy.message_id, copy.request_id, copy.session_id, copy.agent, copy.model_id, _utc(ts),
            _day(ts, self.report_tz), copy.input, copy.output, copy.cache_write_5m, copy.cache_write_1h,
            copy.cache_read, copy.context_tokens, int(copy.fast), cost, unpriced, copy.file, copy.total,
            int(copy.wrapped), copy.order[0], copy.order[1]))
        self._full()

    def add_tool_use(self, use: ToolUse) -> None:
        params, n_masked = bot_parameters(use.input)
        self.seq += 1
        self.uses.append((use.tool_use_id, self.seq, use.session_id, use.agent, use.tool_name, params, n_masked,
                          _utc(use.use_ts), use.message_id, use.request_id, int(use.wrapped)))
        self._full()

    def add_result(self, result: ToolResult) -> None:
        self.seq += 1
        self.results.append((result.tool_use_id, self.seq, _utc(result.result_ts), result.kind, result.agent_id,
                             int(result.wrapped)))
        self._full()

    def link_agent(self, agent_id: str, tool_use_id: str, session_id: str | None) -> None:
        self.found.link_agent(agent_id, tool_use_id, session_id)

    def note(self, what: str, session_id: str | None = None, cwd: str | None = None) -> None:
        self.found.note(what, session_id, cwd)

    def prompt(self, session_id: str | None, owner: str, digest: str, is_task: bool) -> None:
        self.found.prompt(session_id, owner, digest, is_task)

    # -- writing ----------------------------------------------------------------------------------------------------
    def _full(self) -> None:
        if len(self.requests) + len(self.uses) + len(self.results) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the batch (in reading order: the UPSERTs keep the first sighting)."""
        self.conn.executemany(STAGE_REQUEST_SQL, self.requests)
        self.conn.executemany(STAGE_USE_SQL, self.uses)
        self.conn.executemany(STAGE_RESULT_SQL, self.results)
        self.requests, self.uses, self.results = [], [], []

    def read(self, root: str) -> None:
        self.found.read(root, sink=self)
        self.flush()

    def spawn_links(self) -> dict[tuple[str | None, str], str]:
        """:meth:`.collect.TranscriptSet.spawn_links` over the staged results and tool_uses."""
        return resolve_spawns(self.found, self.conn.execute(RESULT_LINKS_SQL))

    def write(self, index: TaskIndex) -> set[str]:
        """Move the staged rows into ``api_requests`` and ``tool_uses`` (what ``run_transcripts`` did with
        :func:`.rows.request_rows` and :func:`.rows.tool_use_rows` give); return the
        groups (task, else session) they touched, and drop the temporary tables."""
        self.flush()
        conn, cwd = self.conn, self.found.session_cwd
        staged = conn.execute(COUNT_STAGED_REQUESTS_SQL).fetchone()[0]
        self.found.counts["duplicate_request_lines"] += self.request_lines - staged
        sessions = [s for (s,) in conn.execute(STAGED_SESSIONS_SQL).fetchall()]
        conn.executemany(INSERT_STAGE_TASK_SQL, ((s, t) for s in sessions
                                                 if (t := index.task_for(s, cwd.get(s))) is not None))
        links = self.spawn_links()
        conn.executemany(INSERT_STAGE_LINK_SQL, ((s, a, t) for (s, a), t in links.items()))
        conn.executemany(INSERT_STAGE_SPAWNED_SQL, ((t, a) for (_, a), t in links.items()))
        conn.execute(MOVE_REQUESTS_SQL)
        conn.executemany(LINK_AGENT_SQL, [{"session_id": s, "agent": a, "tool_use_id": t}
                                          for (s, a), t in links.items() if s is not None])
        conn.execute(MOVE_USES_SQL)
        groups = late_results(conn, conn.execute(LATE_RESULTS_SQL).fetchall())
        conn.executemany(UPDATE_AGENT_SQL, [{"tool_use_id": t, "agent_id": a} for (_, a), t in links.items()])
        conn.execute(FILL_USE_MODEL_SQL)
        groups |= {g for (g,) in conn.execute(STAGED_GROUPS_SQL)}
        for sql in DROP_STAGE_SQL:
            conn.execute(sql)
        return groups

