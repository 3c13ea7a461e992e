"""Units, fixed texts and limits shared by the demo generator's modules."""

from __future__ import annotations

from datetime import UTC, datetime

DEFAULT_END = "2025-10-26"
"""Last simulated day by default: fixed, so the same arguments give the same file on any day."""

COMPACT_TRUTH_ABOVE = 200_000
"""Truth files with more calls than this are written without indentation."""

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = datetime(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)

ROUTER_MODEL = "claude-haiku-4-5"
NO_AUTH_WEB_USER = 521930094
MONITOR_TIMEOUT = 30 * MINUTE
MONITOR_INTERVAL = MINUTE
NO_OUTPUT_ERROR = "Claude produced no output. The task may have failed silently or timed out."
SELF_IMPROVEMENT_CONTEXT = (
    "Scheduled hourly analysis: Analyze errors from the last 7 days. Query the database for failed tasks and tool "
    "usage errors. Focus on top 3 patterns and update agent prompts accordingly.")
HOME = "/Users/matifuentes/Workspace"
