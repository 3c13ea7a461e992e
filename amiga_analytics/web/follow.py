"""The live view (``serve ANALYTICS_DB --follow BOT_DB [--follow BOT_DB …] [--every 60]``): sync in the background
and swap the served snapshot atomically.

Every ``every`` seconds a :class:`Follower` thread runs ``amiga-analytics sync BOT_DB ANALYTICS_DB`` in a child
process (so that the sync's Python work never holds this process's GIL and never slows a request), with the
options the last sync used (``sync_state``: sync reuses the zones itself; the default model and whether message
texts are kept are passed on, so that following never forces a full rebuild; a price or alias file given to an
earlier sync is not recorded there, so follow uses the shipped tables). Then it takes a new
snapshot beside the current one (:func:`.serve.snapshot`), counts its rows, and replaces the served
:func:`.serve.snapshot_database` in one assignment of ``datasette.databases``. A request in flight keeps the database
object it started with; its file stays on disk until the next swap. A failed sync leaves the last snapshot
served and is reported on stderr and at ``/-/amiga-follow.json``.

In a store of several bots (``sync --bot``) each followed bot database is one of its bots, found by the identity
the registry recorded for it (:func:`follow_targets`; not by path: the registry keeps no paths, and a bot database
may move); every round runs ``sync BOT_DB ANALYTICS_DB --bot NAME`` for each of them, with the options of that
bot's own last sync (its shadow store's state), then swaps once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..bot.snapshot import open_snapshot
from ..errors import InputError
from ..load.bots import REGISTRY_KEY, shadow_path
from ..load.state import read_state, source_identity

KEEP_SNAPSHOTS = 2  # the served one and the one before it (requests in flight may still read it)


def follow_targets(analytics_db: Path, bot_dbs: list[Path]) -> list[tuple[Path, str | None]]:
    """Each followed bot database with its bot's name in a store of several bots (None: a store synced without
    ``--bot``, which follows one bot database). ``InputError`` for a bot database the store does not hold."""
    bots = (read_state(analytics_db, [REGISTRY_KEY]).get(REGISTRY_KEY) or {}) if analytics_db.exists() else {}
    if not bots:
        if len(bot_dbs) > 1:
            raise InputError(f"{analytics_db} holds one bot: follow one bot database, or load each into it with "
                             f"`amiga-analytics sync BOT_DB {analytics_db} --bot NAME` first")
        sync_command(bot_dbs[0], analytics_db)  # its price tables are still there
        return [(bot_dbs[0], None)]
    by_source = {entry.get("source"): name for name, entry in bots.items() if entry.get("source")}
    targets: list[tuple[Path, str | None]] = []
    for bot_db in bot_dbs:
        with open_snapshot(bot_db) as snap:
            name = by_source.get(source_identity(snap))
        if name is None:
            raise InputError(f"--follow {bot_db}: not a bot of {analytics_db} (it holds {', '.join(sorted(bots))}): "
                             f"add it first with `amiga-analytics sync {bot_db} {analytics_db} --bot NAME`")
        sync_command(bot_db, analytics_db, name)  # its price tables are still there
        targets.append((bot_db, name))
    return targets


def sync_command(bot_db: Path, analytics_db: Path, bot: str | None = None) -> list[str]:
    """The sync that repeats the last sync's options (an analytics database never synced gets the defaults); of
    bot ``bot`` in a store of several (its own store's options)."""
    own = analytics_db if bot is None else shadow_path(analytics_db, bot)
    state = read_state(own, ["settings", "price_files"]) if own.exists() else {}
    settings = state.get("settings") or {}
    command = [sys.executable, "-m", "amiga_analytics", "sync", str(bot_db), str(analytics_db), "--quiet"]
    if bot is not None:
        command += ["--bot", bot]
    for name, path in sorted((state.get("price_files") or {}).items()):  # the same price tables, or it reprices
        if not Path(path).is_file():
            raise InputError(f"{own} was priced with --{name} {path}, which is gone: put it back (or sync once "
                             "with the tables you want now) before following")
        command += [f"--{name}", path]
    if settings.get("default_model"):
        command += ["--default-model", settings["default_model"]]
    if settings.get("keep_message_content"):
        command.append("--keep-message-content")
    return command


class Follower(threading.Thread):
    """The background sync-and-swap loop of one served Datasette."""

    def __init__(self, ds: Any, analytics_db: Path, targets: list[tuple[Path, str | None]], every: float):
        super().__init__(name="amiga-follow", daemon=True)
        self.ds, self.analytics_db, self.targets, self.every = ds, Path(analytics_db), targets, every
        self.stopped = threading.Event()
        self.status: dict[str, Any] = {"every_s": every, "syncs": 0, "swaps": 0, "last_error": None,
                                       "last_sync_at": None, "last_swap_at": None}

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.step()

    def stop(self) -> None:
        self.stopped.set()

    def step(self) -> bool:
        """One sync of every followed bot database, then one swap; False (and the last snapshot kept) if every
        sync failed. A failed sync is reported (``last_error``) even when another one succeeded."""
        started = time.time()
        errors = [e for e in (self._sync(bot_db, bot) for bot_db, bot in self.targets) if e]
        self.status["syncs"] += 1
        self.status["last_sync_at"] = started
        if errors:
            self.status["last_error"] = "; ".join(errors)
            kept = len(errors) == len(self.targets)
            print(f"follow: sync failed, {'still serving the previous snapshot' if kept else 'serving the others'}: "
                  f"{self.status['last_error']}", file=sys.stderr, flush=True)
            if kept:
                return False
        try:
            swap(self.ds, self.analytics_db)
        except Exception as exc:  # keep serving: the next round tries again
            self.status["last_error"] = _without_paths(f"snapshot failed: {exc}")
            print(f"follow: {self.status['last_error']}", file=sys.stderr, flush=True)
            return False
        self.status["swaps"] += 1
        self.status["last_swap_at"] = time.time()
        self.status["last_error"] = "; ".join(errors) or None
        return True

    def _sync(self, bot_db: Path, bot: str | None) -> str | None:
        """Sync one bot database in a child process; its error (one line, without paths), or None."""
        # The pages come first: the sync works on one core (load/row_workers.py).
        env = {**os.environ, "AMIGA_ANALYTICS_WORKERS": "0"}
        try:
            command = sync_command(bot_db, self.analytics_db, bot)
        except InputError as exc:  # a price table removed since serve started
            return _without_paths(str(exc)) if bot is None else f"bot {bot}: {_without_paths(str(exc))}"
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode == 0:
            return None
        message = (done.stderr or done.stdout).strip().splitlines()
        text = _without_paths(message[-1]) if message else f"sync exited with {done.returncode}"
        return text if bot is None else f"bot {bot}: {text}"

    def status_json(self) -> str:
        return json.dumps(self.status)


def swap(ds: Any, analytics_db: Path) -> Path:
    """Snapshot ``analytics_db`` again and serve the new copy in place of the current one (one assignment)."""
    from .serve import inspect, snapshot, snapshot_database

    name = ds.amiga_database
    generation = ds.amiga_generation + 1
    workdir = Path(ds.amiga_snapshot_dir.name)
    path = snapshot(analytics_db, workdir / f"{name}.{generation}.db")
    info = inspect(path, name)
    db = snapshot_database(ds, path, generation)
    db.name = db.route = name
    db.cached_hash = info[name]["hash"]
    db._cached_table_counts = {table: v["count"] for table, v in info[name]["tables"].items()}
    databases = dict(ds.databases)
    databases[name] = db
    ds.inspect_data = {**(ds.inspect_data or {}), **info}
    ds.databases = databases  # the swap: requests from now on read the new snapshot
    ds.amiga_generation = generation
    for old in sorted(workdir.glob(f"{name}.*.db"), key=lambda p: p.stat().st_mtime)[:-KEEP_SNAPSHOTS]:
        old.unlink(missing_ok=True)
    return path


_PATH = re.compile(r"(?:~|\.{0,2})?(?:/[^\s/'\":]+)+/([^\s/'\":]+)")


def _without_paths(text: str) -> str:
    """``text`` with every file path cut to its last part: the status page is public, local paths are not.

    >>> _without_paths("analytics.db: /home/ana/bots/agentlab.db is not a bot database")
    'analytics.db: agentlab.db is not a bot database'
    """
    return _PATH.sub(r"\1", text)
