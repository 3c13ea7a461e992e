"""The state the simulation's parts share: :class:`simulation.Demo` sets it, the mixins here read and append to it."""

from __future__ import annotations

import random
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clock import Clock, Server
    from .tools import Tools
    from .transcript_plan import Plans


class DemoState:
    """Attributes of :class:`simulation.Demo` (declared once for its parts: tasks, rows, people)."""

    rng: random.Random
    clock: Clock
    server: Server
    tools: Tools
    days: list[date]
    snapshot: int              # UTC µs of the end of the period (the moment the file is copied)
    period_start: int
    # rows by table, each prefixed by its UTC µs for sorting (task rows: (created, row))
    tool_rows: list[tuple]
    status_rows: list[tuple]
    message_rows: list[tuple]
    task_rows: list[tuple]
    user_rows: list[tuple]
    document_rows: list[tuple]
    # the truth
    truth_calls: list[tuple[int, dict]]
    truth_tasks: list[tuple[int, dict]]
    truth_messages: list[tuple[int, dict]]
    secrets: dict[str, None]   # ordered sets
    emails: dict[str, None]
    task_ids: set[str]
    calls_made: int
    schema_applied_at: str
    web_users: list[str | int]
    telegram_users: list[int]
    dev_emails: list[str]
    usernames: list[str]
    password_hashes: list[str]
    _tool_meta: dict  # (tool, success) -> agent_status message and metadata
    plans: Plans  # the Claude Code sessions, for the transcripts
