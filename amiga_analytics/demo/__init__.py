"""A synthetic AMIGA bot database, written the way the real bot writes it, plus its ground truth.

:func:`write_demo` simulates ``days`` calendar days of a busy bot on a host whose clock runs in ``tz`` and writes
the schema-v14 SQLite file the bot would leave behind (schema from :func:`..bot.schema.create_bot_database`),
together with ``<path>.truth.json``: every logical tool call, task and router message as they really happened.
Section numbers below refer to the bot's data dictionary (``bot-data.md``, from github.com/mjfuentes/amiga at
``f2236a6``); ``tests/fixtures/sample.db`` is a sample written by the bot's own code, and the tests compare the
demo with it.

What is modelled
----------------
* **Clock (§2.1).** Simulated instants are integer microseconds of UTC; every text written is the host's naive
  local time as ``datetime.now().isoformat()`` gives it ('T', six-digit microseconds left out when zero, no
  offset). Rows are inserted in real-time order, so ids grow with time even when the local clock falls back at the
  end of summer time (the default period ends on 2025-10-26, the day Europe/Madrid leaves CEST).
* **Work units.** Bot tasks (§1.2) come from the Telegram bot (numeric user id, ``sonnet``), the web chat (a Haiku
  router turn first, JWT user uuid or the no-auth id 521930094, always ``sonnet``, §2.4), the dashboard's
  ``POST /api/tasks`` (any of sonnet/haiku/opus) and the hourly self-improvement scheduler (user 0, ``opus``,
  ``orchestrator``). Interactive Claude Code CLI sessions write tool rows keyed by a 36-char session UUID and
  have no task row, so no model (§3.2). Task ids are 6 lowercase hex digits, ``session_uuid`` is
  ``uuid5(NAMESPACE_DNS, "agentlab.task.<id>")`` (2 % of tasks get the "actual" Claude UUID instead, as §3.2
  allows), ``workflow`` is ``'orchestrator'`` once started.
* **Task life (§2.3, §2.8, §2.9, §3.6).** pending → running → completed / failed / stopped with the bot's texts:
  "Claude produced no output. …", "Claude produced minimal output (N chars): …", "Error: …" (agent_status says
  "Task execution error: …"), "Failed to start Claude session", "[timeout] No updates for X.Xmin (timeout: 30min)"
  (the task monitor's real rule: a running task whose ``updated_at`` was not bumped for 30 min is killed at the
  next 60-second check; only successful ``Task`` calls bump it while ``claude -p`` runs), "[dead_process] Process
  N no longer running (dead/killed)", the stop texts, "Task was pending for more than 1h …", and "mark fixed"
  (completed with ``error=''``). Killed or stopped sessions leave their in-flight tool call without a completion.
  The task running at the end of the period stays ``running``; one created minutes before the end stays
  ``pending``. ``activity_log`` holds the progress-callback entries ("Processing... 1 output lines", "Completed in
  Ns", …). ``agent_status``: two ``started`` rows per started task, one ``tool_call`` row per post-hook run with
  ``{"tool", "success"}``, then ``completed``/``failed``/``stopped`` where the bot's code writes one.
* **Tool calls.** Sequential within a unit (with ``concurrency=True``: parallel batches, parallel sub-agents,
  same-key pairs in flight, gate-blocked git commands and server outages mid-call, their rows replayed hook by
  hook, see :mod:`.concurrency` and :mod:`.replay`); a ``Task`` call (a sub-agent) contains the sub-agent's own calls,
  which carry the parent's task id (§3.2). Parameters follow Claude Code's shapes (§2.6) and go through the
  hook's :func:`sanitize_parameters`. About 4 % of calls never reach the post-hook (failures, denials,
  interrupts: the rows stay NULL). Failures carry the error text the post-hook extracts and the category of
  :func:`categorize_error`, the bot's own rule order (§2.7).
* **Rows per call (§3.1).** The pre-hook inserts row A (success NULL) at call start. When the monitoring server is
  up it inserts its copy B milliseconds later. At call end the post-hook updates the newest matching NULL row in
  place (B, else A); when its 5-second window misses it INSERTs a completed fallback row D instead. If the server is
  up at that moment, it then inserts C (success, error, category, no tokens). So a completed call gives 1 row
  (server down), 3 (up), 4 (up, window missed: A and B stay NULL) or 2 (down, window missed); a call that never
  completes gives A, or A and B. The window test is the bot's real one: the pre row's local date compared with
  the UTC date of "now minus 5 s" (string comparison of 'T' against ' '), so it misses only when the local date is
  behind the UTC date, e.g. America/Los_Angeles evenings after 17:00/16:00; empty parameters skip the window. The
  server is up or down per local calendar day, in runs of days (at least one of each when ``days >= 2``).
  ``phase_number`` is the number of Task rows of the task when the post-hook of a successful Task call runs
  (so 3n-1 with the server up), ``current_phase``/``last_agent_type`` that call's ``subagent_type``.
* **Tokens (§3.3).** 97 % of successful Task calls carry input/output tokens (on B, A or D, never on C); the cache
  columns are NULL except on 10 % of them (the bot reads the wrong keys); 2 % of successful WebFetch calls carry
  input/output tokens too. Nothing else has tokens.
* **Secrets.** About 3 % of Bash commands carry credentials that the key-based sanitiser misses
  (``export OPENAI_API_KEY=sk-proj-…``, ``curl -H 'Authorization: Bearer ghp_…'``, ``mysql --password=…``,
  ``AKIA…`` keys, tokens in git URLs); some failing git commands echo a token in their error text. E-mail addresses
  appear in ``users``, in ``git config``/``--author`` commands and in some chat messages; ``users`` holds
  bcrypt-shaped hashes.
* **Router and web (§1.7, §1.8, §1.10).** Each web-chat turn writes a user row and an assistant row, both after
  the API call returns; assistant rows carry summed tokens and ``claude-haiku-4-5``; task-creating turns store
  the raw ``BACKGROUND_TASK|…`` line. The web chat and the dashboard exist only while the monitoring server is
  up. ``documents`` gets a few archive/restore rows (task_id NULL).

The output is a pure function of the arguments: one ``random.Random(seed)`` drives everything, and the
schema_version row's ``applied_at`` is simulated too.

The package's modules, bottom to top: ``constants``, ``vocab`` (the texts, from ``data/``), ``rules`` (the bot's
sanitiser and error categories), ``clock`` (local time, server schedule), ``profiles`` (tool weights and timing),
``calls``, ``credentials``, ``bash``, ``tool_errors`` and ``tools`` (one logical call), ``concurrency`` (overlapping
calls planned), ``lifecycle`` (a task's fates and the monitor rule), ``people``, ``tool_rows``, ``replay``,
``task_rows`` and ``tasks`` (the parts of the simulation),
``simulation`` (:class:`simulation.Demo`), ``writer`` and ``truth`` (the two files), ``api`` (:func:`write_demo`).
``embedded`` keeps a cached demo for the package's examples.
"""

from __future__ import annotations

from .api import DemoResult, write_demo
from .constants import DEFAULT_END
from .rules import categorize_error, sanitize_parameters

__all__ = ["DEFAULT_END", "DemoResult", "categorize_error", "sanitize_parameters", "write_demo"]
