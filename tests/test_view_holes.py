"""The view's holes: internal tables, pages that show local paths, unbounded facets, free text by default, and
the plain-Datasette command of the README."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from amiga_analytics import analytics_schema
from amiga_analytics import metadata as meta_mod
from amiga_analytics import serve as serve_mod
from amiga_analytics.web import guard

ROOT = Path(__file__).resolve().parent.parent

# Every /-/ page Datasette 0.65 routes, with and without .json, and a few that do not exist.
DASH_PAGES = ["databases", "threads", "metadata", "settings", "versions", "plugins", "config", "actor",
              "permissions", "allow-debug", "messages", "patterns", "auth-token", "create-token", "logout",
              "debug", "nonexistent"]
REFUSED_DASH = {"databases", "threads", "config", "actor", "permissions", "allow-debug", "messages", "patterns",
                "auth-token", "create-token", "logout", "debug", "nonexistent"}


def fetch(ds, paths):
    async def run():
        return [await ds.client.get(p) for p in paths]

    return asyncio.run(run())


@pytest.fixture(scope="module")
def served(sample_analytics, tmp_path_factory):
    """The sample's analytics database under a distinctive directory, served by `serve`'s Datasette."""
    directory = tmp_path_factory.mktemp("where-the-analytics-db-lives")
    path = directory / "analytics.db"
    shutil.copyfile(sample_analytics, path)
    return serve_mod.build_datasette(path), path


def _served_tables(ds) -> list[str]:
    path = ds.databases[ds.amiga_database].path
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    finally:
        conn.close()


def test_every_table_not_described_is_refused(served):
    ds, _ = served
    name = ds.amiga_database
    tables = _served_tables(ds)
    assert "sqlite_stat1" in tables  # the served copy is ANALYZEd
    public = set(meta_mod.described_tables()) - set(analytics_schema.INTERNAL_TABLES)
    for table in tables:
        paths = [f"/{name}/{table}", f"/{name}/{table}.json", f"/{name}/{table}.csv"]
        if table not in public:
            paths += [f"/{name}/{table}/1", f"/{name}/{table}/1.json"]
        for path, response in zip(paths, fetch(ds, paths)):
            if table in public:
                assert response.status_code == 200, (path, response.status_code)
            else:
                assert response.status_code == 403, (path, response.status_code)
    listed = {t["name"] for t in fetch(ds, [f"/{name}.json"])[0].json()["tables"] if not t["hidden"]}
    assert listed == public & set(tables)


def test_no_page_reveals_local_paths(served):
    ds, path = served
    snapshot = Path(ds.databases[ds.amiga_database].path)
    secrets = {str(path.resolve()), str(path.parent.resolve()), str(snapshot), str(snapshot.parent),
               str(Path.home()) + "/"}
    paths = [f"/-/{p}" for p in DASH_PAGES] + [f"/-/{p}.json" for p in DASH_PAGES]
    paths += ["/", "/.json", f"/{ds.amiga_database}", f"/{ds.amiga_database}.json", "/nonexistent",
              f"/{ds.amiga_database}/nonexistent.json"]
    for page, response in zip(paths, fetch(ds, paths)):
        base = page.removeprefix("/-/").removesuffix(".json")
        if page.startswith("/-/") and base in REFUSED_DASH:
            assert response.status_code == 404, page
        for secret in secrets:
            assert secret not in response.text, (page, secret)
    # The pages that stay are real pages.
    for page in ("/-/metadata.json", "/-/settings.json", "/-/versions.json", "/-/plugins.json"):
        assert fetch(ds, [page])[0].status_code == 200, page


def test_facets_are_bounded(served):
    ds, _ = served
    name = ds.amiga_database
    ok, many, free, array = fetch(ds, [
        f"/{name}/tool_calls.json?_facet=day&_facet=agent_type&_facet=file_path",
        f"/{name}/tool_calls.json?_facet=day&_facet=agent_type&_facet=file_path&_facet=task_id",
        f"/{name}/tool_calls.json?_facet=parameters",
        f"/{name}/tasks.json?_facet_array=description",
    ])
    assert ok.status_code == 200 and {"day", "agent_type", "file_path"} <= set(ok.json()["facet_results"])
    assert many.status_code == 400 and free.status_code == 400 and array.status_code == 400
    # Worst case of one page: its query and count, the configured and the requested facets, each at its limit.
    facets = max(len(spec.get("facets", [])) for spec in meta_mod.TABLE_OPTIONS.values()) + guard.MAX_FACETS
    worst_ms = 2 * ds.setting("sql_time_limit_ms") + facets * ds.setting("facet_time_limit_ms")
    assert worst_ms <= 6_000
    assert ds.setting("suggest_facets") is False and ds.setting("num_sql_threads") >= 3


def test_free_text_only_on_purpose(served, truth):
    ds, _ = served
    name = ds.amiga_database
    default, picked, csv, row, event = fetch(ds, [
        f"/{name}/tool_calls.json?_size=5", f"/{name}/tool_calls.json?_size=5&_col=parameters&_col=tool_name",
        f"/{name}/tool_calls.csv?_size=5", f"/{name}/tool_calls/1,main.json", f"/{name}/agent_events.json?_size=2",
    ])
    columns = default.json()["columns"]
    assert "parameters" not in columns and "error" not in columns
    assert {"tool_name", "file_path", "program", "error_template", "error_category"} <= set(columns)
    assert picked.json()["columns"] == ["call_id", "bot", "parameters", "tool_name"]  # the key, then the picked
    assert "parameters" not in csv.text.splitlines()[0].split(",")
    assert "parameters" in row.json()["columns"]  # one call's page shows the whole (masked) row
    assert "message" not in event.json()["columns"]
    tasks = fetch(ds, [f"/{name}/tasks.json?_size=3"])[0].json()["columns"]
    assert "description" not in tasks and "error" not in tasks


# --- the README's plain-Datasette command ------------------------------------------------------------------------


def _readme_command() -> list[str]:
    text = (ROOT / "README.md").read_text()
    lines = [line for line in re.findall(r"^datasette .*$", text, re.M)]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])[1:]


@pytest.fixture(scope="module")
def plain(sample_analytics, tmp_path_factory):
    """The README's `datasette ...` command, run in-process with --get, in a directory with analytics.db
    (ANALYZEd, so it has sqlite_stat1) and metadata.yml."""
    from datasette.cli import cli as datasette_cli

    directory = tmp_path_factory.mktemp("plain-datasette")
    shutil.copyfile(sample_analytics, directory / "analytics.db")
    conn = sqlite3.connect(directory / "analytics.db")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    shutil.copyfile(ROOT / "metadata.yml", directory / "metadata.yml")
    args = _readme_command()
    assert args[:3] == ["-i", "analytics.db", "-m"]

    def get(path: str) -> tuple[int, str]:
        import os

        cwd = os.getcwd()
        os.chdir(directory)
        try:
            result = CliRunner().invoke(datasette_cli, ["serve", *args, "--get", path])
        finally:
            os.chdir(cwd)
        return result.exit_code, result.output

    return get, directory


def test_the_readme_plain_datasette_command_is_safe_as_written(plain):
    get, directory = plain
    code, settings = get("/-/settings.json")
    assert code == 0, settings
    settings = json.loads(settings)
    assert settings["allow_download"] is False
    assert settings["default_allow_sql"] is False
    assert settings["suggest_facets"] is False
    assert settings["facet_time_limit_ms"] <= 500 and settings["sql_time_limit_ms"] <= 1000
    for path in ("/analytics.db", "/analytics?sql=select+1", "/analytics.json?sql=select+1",
                 "/analytics/sqlite_stat1", "/analytics/sqlite_stat1.json", "/analytics/sync_state.json",
                 "/analytics/_sqlite_migrations"):
        code, _ = get(path)
        assert code == 1, path  # --get exits 1 for any status but 200
    code, databases = get("/-/databases.json")
    assert str(directory) not in databases and json.loads(databases)[0]["path"] == "analytics.db"
    code, page = get("/analytics/tool_calls.json?_size=1")
    assert code == 0 and "error_template" in json.loads(page)["columns"]
