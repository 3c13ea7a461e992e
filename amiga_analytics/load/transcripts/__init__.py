"""Claude Code session transcripts: a second, exact witness of the bot's work.

Read a Claude config directory (or its ``projects/`` folder), deduplicate its API requests, and build rows::

    found = read_transcripts("~/.claude")             # or TranscriptSet().read(...) again and again: incremental
    requests = request_rows(found, report_tz="Europe/Berlin", tasks=TaskIndex.from_tasks(bot_tasks))
    uses = tool_use_rows(found, tasks=...)
    write_requests(analytics_db, requests)            # into the api_requests table

Modules: :mod:`.discover` (files and layouts), :mod:`.reading` (lenient, incremental by offset),
:mod:`.records` (what a line holds), :mod:`.collect` (dedup), :mod:`.cost` (prices), :mod:`.rows`,
:mod:`.store` (the ``api_requests`` loader), :mod:`.stage` (the sync's streamed read: the same rules applied by
SQLite to temporary tables, a batch of lines at a time).
"""

from .collect import TranscriptSet, read_transcripts
from .cost import Rates, rates_for, request_cost
from .discover import TranscriptFile, discover, projects_dir
from .reading import FileState, ReadStats
from .records import RequestCopy, ToolResult, ToolUse
from .rows import REQUEST_COLUMNS, TaskIndex, ToolUseRow, request_rows, task_session_uuid, tool_use_rows
from .store import link_agents, write_requests

__all__ = [
    "REQUEST_COLUMNS",
    "FileState",
    "Rates",
    "ReadStats",
    "RequestCopy",
    "TaskIndex",
    "ToolResult",
    "ToolUse",
    "ToolUseRow",
    "TranscriptFile",
    "TranscriptSet",
    "discover",
    "link_agents",
    "projects_dir",
    "rates_for",
    "read_transcripts",
    "request_cost",
    "request_rows",
    "task_session_uuid",
    "tool_use_rows",
    "write_requests",
]
