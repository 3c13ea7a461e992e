"""Masking at the load stage: the holes of issue 15 (error_kind, agent_events.tool_name, damaged metadata), the
false positives and partial masks it lists, and the JSON texts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from amiga_analytics.bot.schema import create_bot_database
from amiga_analytics.load.redact import mask
from amiga_analytics.load.sync import sync
from conftest import file_bytes

GHP = "ghp_" + "Zq8Lm2Vx7Rt4Wn9Kp3Hs6Jd1Fb5Gc0Ya8Ue"

# Harmless texts that issue 15 saw altered.
UNCHANGED = [
    "git clone git@github.com:org/repo",
    "git push git@github.com:org/repo.git main",
    "cp logo@2x.png dist/",
    "pip install --user requests",
    "git commit --author=alice -m fix",
    "sorted(rows, key=lambda r: r.id)",
    "redis-cli -p 6379 ping",
    '{"name": "app", "author": "Alice Martin", "version": "1.0.0"}',
    '{"key": "home.title", "value": "Welcome"}',
    "KeyError: 'user_id'",
]
# Secrets that issue 15 saw masked only in part, or not at all: (text, secret).
WHOLE = [
    ("DB_PASSWORD=contraseñaSegura2024x ./run", "contraseñaSegura2024x"),
    ("PASSWORD='Sx7;Kq2&Lm9|Vb4Zt' make deploy", "Sx7;Kq2&Lm9|Vb4Zt"),
    ('openssl enc -pass pass:x --passphrase "correct horse battery staple" -in f', "correct horse battery staple"),
    ("redis-cli -u redis://:s3cretRedisPw@cache:6379", "s3cretRedisPw"),
    ("mongosh mongodb://app:pa/ss9Word@db:27017/app", "pa/ss9Word"),
    ("az ad sp create --client-secret Kd8Q~Zr2Lp9Vx4Nm7Tq1Wb6", "Kd8Q~Zr2Lp9Vx4Nm7Tq1Wb6"),
    ("aws configure --secret-key Mn9oS3cr3tK3y2024x", "Mn9oS3cr3tK3y2024x"),
    ("az storage account keys --account-key Zm9vYmFyYmF6cXV4MTIz==", "Zm9vYmFyYmF6cXV4MTIz=="),
    ("az login -u app -p Az7LoginPass!92", "Az7LoginPass!92"),
    ("twine upload -u alice -p Tw1ne!Pass2024 dist/*", "Tw1ne!Pass2024"),
    ("poetry config pypi-token.pypi 4f9Qw8Zr2Lk7Mx3N", "4f9Qw8Zr2Lk7Mx3N"),
    ("machine example.com login bob password N3trcSecret771", "N3trcSecret771"),
    ("echo 'db:5432:app:bob:Pg9pass!word' >> ~/.pgpass", "Pg9pass!word"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQWGBGSVV4YBDAClvRnxezIRy2Yv7SFlzC0iFiRF\n-----END PGP PRIVATE KEY BLOCK-----",
     "lQWGBGSVV4YBDAClvRnxezIRy2Yv7SFlzC0iFiRF"),
    ("echo 'Qx7Lm2Vw9Rt4Kp8Zs3Hn' | gh secret set API_TOKEN", "Qx7Lm2Vw9Rt4Kp8Zs3Hn"),
    ('client = Client("Qx7Lm2Vw9Rt4Kp8Zs3HnB6Jd")', "Qx7Lm2Vw9Rt4Kp8Zs3HnB6Jd"),
    ("ValueError: bad key Qx7Lm2Vw9Rt4Kp8", "Qx7Lm2Vw9Rt4Kp8"),
    ("Use the key Qx7Lm2Vw9Rt4Kp8 to call it", "Qx7Lm2Vw9Rt4Kp8"),
    # Found by test_properties: a secret-naming assignment whose rejected value hides the next one.
    ("ACCESSID=DB_PASSWORD: 00000000", "00000000"),
    ("AUTH_MODE=SECRET_KEY: Zr2Lk7Mx", "Zr2Lk7Mx"),
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_issue_false_positives_are_gone(text):
    assert mask(text) == (text, 0)


@pytest.mark.parametrize(("text", "secret"), WHOLE)
def test_issue_partial_masks_cover_the_whole_secret(text, secret):
    masked, n = mask(text)
    assert n >= 1
    for i in range(max(1, len(secret) - 7)):
        assert secret[i:i + 8] not in masked, masked


def test_json_text_is_masked_value_by_value_and_stays_json():
    params = {"file_path": "/ws/a.json", "content": json.dumps({"db": {"password": "Hun;ter\"2 x"}}),
              "env": {"nested": [{"api_key": "Zq8Lm2Vx"}]}}
    for ensure_ascii in (True, False):
        masked, n = mask(json.dumps(params, ensure_ascii=ensure_ascii))
        decoded = json.loads(masked)
        assert n == 2 and "Hun;ter" not in masked and "Zq8Lm2Vx" not in masked
        assert decoded["file_path"] == "/ws/a.json" and decoded["env"]["nested"][0]["api_key"] == "<masked>"


def test_a_token_cut_by_the_bots_500_characters_is_masked():
    command = "ls src && " * 46 + "gh auth login --with-token <<< " + GHP  # the token starts at 491
    stored = json.dumps({"command": command[:500] + "..."})  # what the bot's sanitiser keeps
    cut = command[491:500]
    assert cut == GHP[:9] and cut in stored
    assert cut not in mask(stored)[0]


def _bot(path: Path, events: list[tuple], tasks: list[tuple]) -> Path:
    create_bot_database(path).close()
    conn = sqlite3.connect(path)
    with conn:
        for task_id, description, status, error in tasks:
            conn.execute("INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, "
                         "workspace, error) VALUES (?, 1, ?, ?, '2025-10-01T09:00:00', '2025-10-01T09:30:00', "
                         "'sonnet', '/ws', ?)", (task_id, description, status, error))
        for ts, message, metadata in events:
            conn.execute("INSERT INTO agent_status (timestamp, task_id, status, message, metadata) "
                         "VALUES (?, 'abc123', 'tool_call', ?, ?)", (ts, message, metadata))
    conn.close()
    return path


def test_load_stage_holes(tmp_path):
    bot = _bot(tmp_path / "agentlab.db", events=[
        ("2025-10-01T09:01:00", "Bash completed", json.dumps({"tool": {"name": "Bash"}, "success": True})),
        ("2025-10-01T09:02:00", "Read completed", json.dumps({"tool": ["Read"], "success": True})),
        ("2025-10-01T09:03:00", f"ran ./verify {GHP}", json.dumps({"tool": GHP, "success": True})),
    ], tasks=[
        ("abc123", f"push with {GHP}", "failed", f"[{GHP}] push rejected"),
        ("def456", "a task", "failed", "[timeout] No updates for 31.0min (timeout: 30min)"),
    ])
    out = tmp_path / "analytics.db"
    result = sync(bot, out, source_tz="UTC")  # a damaged metadata is a repair, not an exit 2
    assert result.quality["invalid_values"] == 2  # {"name": "Bash"} repaired, ["Read"] dropped
    conn = sqlite3.connect(out)
    names = [r[0] for r in conn.execute("SELECT tool_name FROM agent_events ORDER BY event_id")]
    kinds = dict(conn.execute("SELECT task_id, error_kind FROM tasks"))
    conn.close()
    assert names[:2] == ["Bash", None] and GHP[4:12] not in (names[2] or "")
    assert kinds == {"abc123": "other", "def456": "timeout"}  # computed from the masked error
    assert GHP[4:12].encode() not in file_bytes(out)
    assert result.masked == {"task descriptions": 1, "task errors": 1, "agent messages": 1, "tool names": 1}
