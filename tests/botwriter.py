"""A bot-like writer: what the AMIGA bot's hooks and monitoring server do to tool_usage, as a separate process.

Run as ``python tests/botwriter.py BOT_DB SECONDS [TASK_ID]``. Each call writes the server-up pattern (pre row A,
server copy B, then B updated in place and a completion row C) plus the post-hook's agent_status row, each in
its own short transaction on a WAL connection, like the bot. It prints the number of calls written and exits 1
on any database error, so a test can assert that a reader never made the bot fail.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import datetime


def main(path: str, seconds: float, task_id: str = "feed01") -> int:
    conn = sqlite3.connect(path, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    deadline = time.monotonic() + seconds
    calls = 0
    try:
        while time.monotonic() < deadline:
            params = json.dumps({"file_path": f"/ws/src/writer{calls % 50}.py"})
            now = datetime.now().isoformat()
            with conn:
                conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, parameters) VALUES (?, ?, 'Read', ?)",
                             (now, task_id, params))
            with conn:
                cur = conn.execute(
                    "INSERT INTO tool_usage (timestamp, task_id, tool_name, parameters) VALUES (?, ?, 'Read', ?)",
                    (datetime.now().isoformat(), task_id, params))
                copy_id = cur.lastrowid
            time.sleep(0.002)
            with conn:
                conn.execute("UPDATE tool_usage SET success = 1 WHERE id = ?", (copy_id,))
                conn.execute(
                    "INSERT INTO agent_status (timestamp, task_id, status, message, metadata) VALUES (?, ?, 'tool_call', 'Read completed', ?)",
                    (datetime.now().isoformat(), task_id, json.dumps({"tool": "Read", "success": True})))
            with conn:
                conn.execute(
                    "INSERT INTO tool_usage (timestamp, task_id, tool_name, parameters, success) VALUES (?, ?, 'Read', ?, 1)",
                    (datetime.now().isoformat(), task_id, params))
            calls += 1
    except sqlite3.Error as exc:
        print(f"writer failed after {calls} calls: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(calls)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), *sys.argv[3:]))
