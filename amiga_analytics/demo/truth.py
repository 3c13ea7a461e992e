"""Writing the truth file: every logical tool call, task and router message as they really happened, and the
secrets, e-mail addresses and password hashes planted in the database."""

from __future__ import annotations

import json
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from .constants import COMPACT_TRUTH_ABOVE

if TYPE_CHECKING:
    from .simulation import Demo


def write_truth(path: Path, demo: Demo, generator: dict, tz: str) -> None:
    by_time = itemgetter(0)
    demo.truth_calls.sort(key=by_time)
    demo.truth_messages.sort(key=by_time)
    iso = demo.clock.iso
    truth = {
        "scenario": "demo",
        "timezone": tz,
        "generator": generator,
        "server_down": [[iso(s), iso(e)] for s, e in demo.server.down],
        "snapshot": iso(demo.snapshot),
        "calls": [call for _, call in demo.truth_calls],
        "tasks": [task for _, task in sorted(demo.truth_tasks, key=by_time)],
        "messages": [m for _, m in demo.truth_messages],
        "users": demo.usernames,
        "secrets": list(demo.secrets),
        "emails": list(demo.emails),
        "password_hashes": demo.password_hashes,
    }
    if demo.concurrency:
        truth["notes"] = {"invisible_calls": demo.invisible_calls}
    if len(truth["calls"]) > COMPACT_TRUTH_ABOVE:
        text = json.dumps(truth, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(truth, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
