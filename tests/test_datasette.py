"""The read-only Datasette view, in-process: metadata.yml, every page, canned queries = query functions, safety.

Datasette runs in this process (``build_datasette`` and ``await ds.client.get``); the browser test lives in
test_datasette_browser.py.
"""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from amiga_analytics import analytics_schema, queries
from amiga_analytics import metadata as meta_mod
from amiga_analytics import serve as serve_mod
from amiga_analytics.cli import cli
from amiga_analytics.errors import NotAnAnalyticsDatabase
from amiga_analytics.web.guard import FREE_TEXT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
METADATA_YML = ROOT / "metadata.yml"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# The columns of every canned query, in order.
QUERY_COLUMNS = {
    "cost_per_day": ["day", "calls", "calls_with_tokens", "input_tokens", "output_tokens", "cache_write_tokens",
                     "cache_read_tokens", "cost_usd", "unpriced_tokens", "cost_transcript_usd", "cost_bot_usd"],
    "tool_cost_by_tool": ["tool_name", "calls", "calls_with_tokens", "input_tokens", "output_tokens",
                          "cache_write_tokens", "cache_read_tokens", "cost_usd", "unpriced_tokens",
                          "cost_transcript_usd", "cost_bot_usd"],
    "tool_cost_by_model": ["model_id", "calls", "calls_with_tokens", "input_tokens", "output_tokens",
                           "cache_write_tokens", "cache_read_tokens", "cost_usd", "unpriced_tokens",
                           "cost_transcript_usd", "cost_bot_usd"],
    "error_rates_by_tool": ["tool_name", "calls", "completed", "failed", "unknown", "error_rate"],
    "error_rates_by_category": ["error_category", "calls", "completed", "failed", "unknown", "error_rate",
                                "share_of_failures", "share_of_completed"],
    "task_throughput": ["day", "created", "completed", "failed", "stopped", "finished", "success_rate",
                        "median_cycle_s", "p90_cycle_s"],
    "top_errors": ["tool_name", "error_template", "error_category", "count", "share", "example_error", "first_seen",
                   "last_seen", "tasks"],
    "most_expensive_tasks": ["task_id", "status", "model_id", "agent_type", "created_at", "cycle_s", "calls",
                             "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "cost_usd",
                             "unpriced_tokens", "cost_transcript_usd", "cost_bot_usd", "description", "bot"],
    "latency_by_tool": ["tool_name", "calls", "calls_with_duration", "p50_ms", "p90_ms", "p99_ms", "mean_ms"],
    "data_quality_latest": ["check_name", "value", "detail", "sync_id", "measured_at", "bot"],
    "dashboard": ["first_day", "last_day", "calls", "cost_usd", "failed", "completed", "error_rate",
                  "tasks_created", "tasks_completed", "tasks_failed", "task_success_rate", "data_through",
                  "synced_at", "bots", "period_from", "period_until"],
    "daily_cost_by_model": ["day", "model_id", "calls", "cost_usd", "unpriced_tokens"],
    "daily_calls": ["day", "calls", "completed", "failed", "unknown", "error_rate"],
    "daily_latency": ["day", "tool_name", "calls_with_duration", "p50_ms", "p95_ms", "mean_ms"],
}

# The parameters of each canned query (the dashboard's filters where they apply).
QUERY_PARAMS = {name: ["since", "until", "bot"] for name in QUERY_COLUMNS} | {
    "data_quality_latest": None,
    "task_throughput": ["since", "until", "model", "agent_type", "bot"],
    "most_expensive_tasks": ["since", "until", "model", "agent_type", "bot"],
    "top_errors": ["since", "until", "tool", "model", "agent_type", "bot"],
    "dashboard": ["since", "until", "tool", "model", "agent_type", "bot"],
    "daily_cost_by_model": ["since", "until", "tool", "model", "agent_type", "bot"],
    "daily_calls": ["since", "until", "tool", "model", "agent_type", "bot"],
    "daily_latency": ["since", "until", "tool", "model", "agent_type", "bot"],
}

# Each canned query and the query function call it must equal (same rows, same order, same figures).
PYTHON_EQUIVALENT = {
    "cost_per_day": lambda db, **w: queries.tool_cost(db, by=None, freq="D", **w),
    "tool_cost_by_tool": lambda db, **w: queries.tool_cost(db, by="tool_name", **w),
    "tool_cost_by_model": lambda db, **w: queries.tool_cost(db, by="model_id", **w),
    "error_rates_by_tool": lambda db, **w: queries.error_rates(db, by="tool_name", **w),
    "error_rates_by_category": lambda db, **w: queries.error_rates(db, by="error_category", **w),
    "task_throughput": lambda db, **w: queries.task_throughput(db, freq="D", **w),
    "top_errors": lambda db, **w: queries.top_errors(db, limit=50, **w),
    "most_expensive_tasks": lambda db, **w: queries.task_cost(db, limit=50, **w),
    "latency_by_tool": lambda db, **w: queries.latency(db, by="tool_name", **w),
    "data_quality_latest": lambda db, **w: queries.data_quality(db),
}

CHART_QUERIES = ("cost_per_day", "error_rates_by_tool", "task_throughput")


def fetch(ds, paths, method="get"):
    """GET (or another method) every path in one event loop; returns the responses in order."""

    async def run():
        return [await getattr(ds.client, method)(p) for p in paths]

    return asyncio.run(run())


def fetch_one(ds, path, method="get"):
    return fetch(ds, [path], method)[0]


@pytest.fixture(scope="module")
def sample_ds(sample_analytics):
    return serve_mod.build_datasette(sample_analytics)


@pytest.fixture(scope="module")
def demo_ds(demo_pair):
    return serve_mod.build_datasette(demo_pair[2])


def db_tables(path) -> dict[str, list[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}
    finally:
        conn.close()


# --- metadata.yml ----------------------------------------------------------------------------------------------


def test_metadata_yml_is_the_generated_output():
    assert METADATA_YML.read_text() == meta_mod.render_yaml(), (
        "metadata.yml is out of date: run `python -m amiga_analytics.metadata > metadata.yml`"
    )


def test_metadata_yml_loads_as_the_generated_metadata():
    loaded = yaml.safe_load(METADATA_YML.read_text())
    assert loaded == meta_mod.build_metadata()
    assert loaded["allow_sql"] is False
    for key in ("title", "description", "source", "license"):
        assert loaded[key]
    assert list(loaded["databases"]) == ["analytics"]


def test_every_table_and_column_of_the_database_is_described(sample_analytics):
    tables = meta_mod.build_metadata()["databases"]["analytics"]["tables"]
    for name in meta_mod.SQLITE_INTERNAL_TABLES:  # SQLite's own tables: refused, not described
        assert tables.pop(name) == {"hidden": True, "allow": False}
    actual = db_tables(sample_analytics)
    assert set(actual) == set(tables), "metadata tables differ from the analytics database's tables"
    for name, columns in actual.items():
        assert tables[name]["description"].strip(), name
        assert set(tables[name]["columns"]) == set(columns), name
        for column in columns:
            assert tables[name]["columns"][column].strip(), (name, column)


def test_descriptions_come_from_analytics_schema():
    """Short column descriptions on the page, the whole texts in the metadata JSON (column_details)."""
    tables = meta_mod.build_metadata()["databases"]["analytics"]["tables"]
    for name, spec in analytics_schema.TABLES.items():
        assert tables[name]["description"] == spec["description"]
        assert set(tables[name]["columns"]) == set(spec["columns"])
        for column, text in spec["columns"].items():
            shown = tables[name]["columns"][column]
            assert len(shown) <= meta_mod.SHORT, (name, column, shown)
            assert text.startswith(shown.rstrip(" …")), (name, column)
            assert tables[name].get("column_details", {}).get(column, shown) == text, (name, column)


def test_table_options_facets_sort_labels_units_and_hidden_tables():
    from datasette.views.base import ureg

    tables = meta_mod.build_metadata()["databases"]["analytics"]["tables"]
    assert tables["tool_calls"]["facets"] == ["error_category", "program"]
    assert tables["tasks"]["facets"] == ["status", "agent_type", "model_id"]
    for name, spec in tables.items():
        if name in analytics_schema.INTERNAL_TABLES or name in meta_mod.SQLITE_INTERNAL_TABLES:
            assert spec["hidden"] is True and spec["allow"] is False, name
            continue
        assert "hidden" not in spec, name
        assert ("sort" in spec) != ("sort_desc" in spec), name
        sort_column = spec.get("sort") or spec.get("sort_desc")
        assert sort_column in spec["columns"], name
        assert spec["label_column"] in spec["columns"], name
        for column in spec.get("facets", []):
            assert column in spec["columns"], (name, column)
        for column, unit in spec.get("units", {}).items():
            assert column in spec["columns"], (name, column)
            ureg(unit)  # a pint unit Datasette understands


def test_canned_queries_are_read_only_with_period_parameters():
    db_meta = meta_mod.build_metadata()["databases"]["analytics"]
    assert set(db_meta["queries"]) == set(QUERY_COLUMNS)
    for name, query in db_meta["queries"].items():
        assert query["write"] is False, name
        assert query["title"] and query["description"], name
        assert re.match(r"\s*(WITH|SELECT)\b", query["sql"], re.I), name
        assert query.get("params") == QUERY_PARAMS[name], name
        assert query["hide_sql"] is True, name
    for name in CHART_QUERIES:
        assert "renderChart(" in db_meta["queries"][name]["description_html"]


def test_metadata_for_another_database_name():
    meta = meta_mod.build_metadata("amiga-prod.2025")
    assert list(meta["databases"]) == ["amiga-prod.2025"]
    links = meta["plugins"]["datasette-dashboards"][meta_mod.DASHBOARD]["charts"]["chart-pages"]["display"]
    assert "(/amiga-prod~2E2025/cost_per_day)" in links


# --- pages ----------------------------------------------------------------------------------------------------


def test_every_page_answers(sample_ds):
    paths = serve_mod.page_paths(sample_ds)
    assert len(paths) > 20
    for path, response in zip(paths, fetch(sample_ds, paths)):
        assert response.status_code == 200, (path, response.text[:500])


def test_table_pages_have_the_expected_columns_and_counts(sample_ds, sample_analytics):
    name = sample_ds.amiga_database
    actual = db_tables(sample_analytics)
    visible = [t for t in actual if t not in analytics_schema.INTERNAL_TABLES]
    responses = fetch(sample_ds, [f"/{name}/{t}.json?_size=3" for t in visible])
    conn = sqlite3.connect(f"file:{sample_analytics}?mode=ro", uri=True)
    for table, response in zip(visible, responses):
        assert response.status_code == 200, table
        body = response.json()
        # A table page leaves out the free-text columns unless the reader picks columns (web/guard.py).
        shown = [c for c in actual[table] if c not in FREE_TEXT_COLUMNS.get(table, ())]
        assert body["columns"] == shown, table
        assert body["filtered_table_rows_count"] == conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    conn.close()


def test_configured_facets_are_computed_without_timeouts(sample_ds):
    name = sample_ds.amiga_database
    for table, facets in (("tool_calls", ["error_category", "program"]),
                          ("tasks", ["status", "agent_type", "model_id"])):
        body = fetch_one(sample_ds, f"/{name}/{table}.json?_size=1").json()
        assert set(body["facet_results"]) == set(facets), table  # a facet that timed out would be missing
        for facet in ("error_category", "status"):
            if facet in body["facet_results"]:
                assert body["facet_results"][facet]["results"], (table, facet)
        assert body["suggested_facets"] == []  # suggestions are off: they scan every column on every view


@pytest.mark.parametrize("query", sorted(QUERY_COLUMNS))
def test_canned_query_columns_with_and_without_a_period(sample_ds, query):
    name = sample_ds.amiga_database
    window = serve_mod.default_window(sample_ds)
    suffixes = ("", "?" + urlencode(window), "?since=&until=") if QUERY_PARAMS[query] else ("",)
    for suffix in suffixes:
        response = fetch_one(sample_ds, f"/{name}/{query}.json{suffix}")
        assert response.status_code == 200, (query, suffix, response.text[:300])
        body = response.json()
        assert body["columns"] == QUERY_COLUMNS[query], query
        assert body["rows"], (query, suffix)
        html = fetch_one(sample_ds, f"/{name}/{query}{suffix}")
        assert html.status_code == 200


def _canned_frame(ds, query, since, until) -> pd.DataFrame:
    period = {"since": since or "", "until": until or ""} if QUERY_PARAMS[query] else {}
    params = urlencode({**period, "_size": "max"})
    body = fetch_one(ds, f"/{ds.amiga_database}/{query}.json?{params}").json()
    assert not body["truncated"]
    return pd.DataFrame(body["rows"], columns=body["columns"])


def _comparable(py: pd.DataFrame, sql: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    py = py.copy()
    if "period_start" in py:
        py.insert(0, "day", py.pop("period_start").dt.strftime("%Y-%m-%d"))
    sql = sql[list(py.columns)].copy()
    for col in py.columns:
        if isinstance(py[col].dtype, pd.DatetimeTZDtype):
            py[col] = py[col].dt.tz_convert("UTC")
            sql[col] = pd.to_datetime(sql[col], utc=True, format="ISO8601").astype(py[col].dtype)
        elif py[col].dtype.kind in "iuf":
            sql[col] = pd.to_numeric(sql[col]).astype("float64")
            py[col] = py[col].astype("float64")
        else:
            py[col] = py[col].astype(object).where(py[col].notna(), None)
            sql[col] = sql[col].astype(object).where(sql[col].notna(), None)
    return py.reset_index(drop=True), sql.reset_index(drop=True)


def _windows(path) -> list[tuple[str | None, str | None]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM tool_daily ORDER BY day")]
    conn.close()
    mid = days[len(days) // 2]
    return [(None, None), (days[2], days[-3]), (mid, None), (None, mid), ("2031-01-01", "2031-01-08")] + _timed(days)


def _timed(days: list[str]) -> list[tuple[str | None, str | None]]:
    """Periods with a time of day (report zone) or an offset: partial first and last days, one hour, an open side."""
    mid = days[len(days) // 2]
    return [(f"{days[2]}T08:30", f"{days[-3]}T17:45:30.5"), (f"{mid}T12:00", f"{mid} 13:15"),
            (f"{mid}T06:00+05:00", None), (None, f"{mid}T09:00Z")]


@pytest.mark.parametrize("which", ["sample", "demo"])
def test_canned_queries_equal_the_query_functions(which, request):
    path = request.getfixturevalue("sample_analytics" if which == "sample" else "demo_pair")
    path = path if which == "sample" else path[2]
    ds = request.getfixturevalue(f"{which}_ds")
    for since, until in _windows(path):
        for query, python in PYTHON_EQUIVALENT.items():
            expected = python(path, since=since, until=until) if query != "data_quality_latest" else python(path)
            py, sql = _comparable(expected, _canned_frame(ds, query, since, until))
            pd.testing.assert_frame_equal(sql, py, check_dtype=False, rtol=1e-9, obj=f"{query} {since}..{until}")


@pytest.mark.parametrize("which", ["sample", "demo"])
def test_shared_figures_are_equal_to_the_last_bit(which, request):
    """Latency percentiles, top errors and task cost run the same SQL (store.figures) in Python and in Datasette:
    equal, not merely close (the mean duration is summed from the rollup in Datasette: close, as above)."""
    path = request.getfixturevalue("sample_analytics" if which == "sample" else "demo_pair")
    path = path if which == "sample" else path[2]
    ds = request.getfixturevalue(f"{which}_ds")
    for since, until in _windows(path)[:4] + _windows(path)[-4:]:
        for query in ("latency_by_tool", "top_errors", "most_expensive_tasks"):
            expected = PYTHON_EQUIVALENT[query](path, since=since, until=until)
            py, sql = _comparable(expected.drop(columns=["mean_ms"], errors="ignore"),
                                  _canned_frame(ds, query, since, until))
            assert len(py) > 0, (query, since, until)
            pd.testing.assert_frame_equal(sql, py, check_dtype=False, check_exact=True, obj=f"{query} {since}..{until}")


def test_error_rates_by_tool_match_the_truth(sample_ds, truth):
    sql = _canned_frame(sample_ds, "error_rates_by_tool", None, None).set_index("tool_name")
    calls = collections.Counter(c["tool"] for c in truth["calls"])
    failed = collections.Counter(c["tool"] for c in truth["calls"] if c["outcome"] == "failure")
    unknown = collections.Counter(c["tool"] for c in truth["calls"] if c["outcome"] == "unknown")
    assert sql["calls"].to_dict() == dict(calls)
    assert {k: v for k, v in sql["failed"].to_dict().items() if v} == dict(failed)
    assert {k: v for k, v in sql["unknown"].to_dict().items() if v} == dict(unknown)


def test_chart_pages_use_only_local_scripts(sample_ds):
    name = sample_ds.amiga_database
    for query in CHART_QUERIES:
        html = fetch_one(sample_ds, f"/{name}/{query}").text
        assert f'id="chart-{query}"' in html and "renderChart(" in html
        sources = re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(r'<link[^>]+href="([^"]+)"', html)
        assert sources
        for src in sources:  # relative, or this server (the test client calls itself localhost)
            assert not re.match(r"(https?:)?//", src) or src.startswith("http://localhost/"), (query, src)
    for asset in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "dashboards.js", "dashboards.css"):
        assert fetch_one(sample_ds, f"/-/static-plugins/datasette_dashboards/{asset}").status_code == 200, asset
    dashboard = fetch_one(sample_ds, f"/-/dashboards/{meta_mod.DASHBOARD}")
    assert dashboard.status_code == 200
    for query in CHART_QUERIES:
        assert f'href="/{name}/{query}"' in dashboard.text


# --- read-only and safe ----------------------------------------------------------------------------------------


def test_arbitrary_sql_and_where_clauses_are_refused(sample_ds):
    name = sample_ds.amiga_database
    for path in (f"/{name}?sql=select+1", f"/{name}.json?sql=select+1",
                 f"/{name}.json?sql=select+*+from+sync_state", f"/{name}/tool_calls.json?_where=1%3D1",
                 f"/{name}/tool_calls?_where=1%3D1"):
        assert fetch_one(sample_ds, path).status_code == 403, path


def test_writes_downloads_and_internal_tables_are_refused(sample_ds, sample_analytics):
    name = sample_ds.amiga_database
    for path in (f"/{name}/cost_per_day", f"/{name}/tool_calls", f"/{name}", "/", f"/{name}/tool_calls/1/-/update"):
        assert fetch_one(sample_ds, path, method="post").status_code == 405, path
    assert fetch_one(sample_ds, f"/{name}.db").status_code in (403, 404)
    for table in analytics_schema.INTERNAL_TABLES:
        for suffix in ("", ".json", ".csv"):
            assert fetch_one(sample_ds, f"/{name}/{table}{suffix}").status_code == 403, (table, suffix)
    assert fetch_one(sample_ds, f"/{name}/sync_state/user_ref_salt").status_code == 403
    listed = {t["name"] for t in fetch_one(sample_ds, f"/{name}.json").json()["tables"] if not t["hidden"]}
    assert listed.isdisjoint(analytics_schema.INTERNAL_TABLES)
    assert sample_ds.setting("allow_download") is False
    assert sample_ds.setting("default_allow_sql") is False


def _crawl_paths(ds, path) -> list[str]:
    """Every page and JSON endpoint of the view, including row pages of a sample of rows of each table."""
    from datasette.utils import path_from_row_pks

    name = ds.amiga_database
    paths = list(serve_mod.page_paths(ds))
    paths += [p + (".json" if "?" not in p else "") for p in paths if p != "/" and "dashboards" not in p]
    paths += [p.replace("?", ".json?") for p in paths if "?" in p and ".json" not in p]
    paths += ["/.json", "/-/metadata", "/-/metadata.json", "/-/versions", "/-/versions.json", "/-/plugins.json",
              "/-/settings.json", "/-/databases.json", "/-/actor.json", "/-/threads.json", "/-/dashboards"]
    window = serve_mod.default_window(ds)
    paths += [f"/{name}/{q}.csv?{urlencode(window) if QUERY_PARAMS[q] else ''}" for q in QUERY_COLUMNS]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    for table in db_tables(path):
        if table in analytics_schema.INTERNAL_TABLES:  # refused (403), but fetched all the same
            paths += [f"/{name}/{table}", f"/{name}/{table}.json?_size=max", f"/{name}/{table}.csv?_size=max"]
            continue
        pks = [r[1] for r in sorted(conn.execute(f'PRAGMA table_info("{table}")'), key=lambda r: r[5]) if r[5]]
        rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid LIMIT 4').fetchall()
        rows += conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid DESC LIMIT 4').fetchall()
        if table == "tool_calls":  # and the calls whose parameters or error held a secret before masking
            rows += conn.execute("SELECT * FROM tool_calls WHERE secrets_masked > 0 LIMIT 12").fetchall()
        paths += [f"/{name}/{table}.csv?_size=max", f"/{name}/{table}.json?_size=max"]
        for row in rows:
            row_path = path_from_row_pks(dict(row), pks, not pks)
            paths += [f"/{name}/{table}/{row_path}", f"/{name}/{table}/{row_path}.json"]
    conn.close()
    return list(dict.fromkeys(paths))


@pytest.mark.parametrize("which", ["sample", "demo"])
def test_nothing_secret_is_published(which, request):
    pair = request.getfixturevalue("sample_analytics" if which == "sample" else "demo_pair")
    path = pair if which == "sample" else pair[2]
    truth = request.getfixturevalue("truth") if which == "sample" else pair[1]
    ds = request.getfixturevalue(f"{which}_ds")
    secrets = list(truth["secrets"]) + list(truth.get("emails", [])) + list(truth.get("password_hashes", []))
    from amiga_analytics.sync import user_ref_salt

    salt = user_ref_salt()
    assert salt.encode() not in Path(path).read_bytes()
    secrets.append(salt)
    assert secrets
    paths = _crawl_paths(ds, path)
    assert len(paths) > 80
    internal = tuple(f"/{ds.amiga_database}/{t}" for t in analytics_schema.INTERNAL_TABLES)
    for p, response in zip(paths, fetch(ds, paths)):
        expected = 403 if p.startswith(internal) and p.split("?")[0].split(".")[0] in internal else 200
        if p in ("/-/databases.json", "/-/threads.json", "/-/actor.json"):  # local paths: not published
            expected = 404
        assert response.status_code == expected, (p, response.status_code)
        text = response.text
        for secret in secrets:
            assert secret not in text, (p, secret[:6])
        assert "$2b$" not in text and "$2a$" not in text, p
        assert not EMAIL.search(text), (p, EMAIL.search(text).group(0))


# --- serve: snapshot, inspect, names, errors -------------------------------------------------------------------


def test_serves_a_snapshot_for_any_file_name(sample_analytics, tmp_path):
    odd = tmp_path / "amiga prod.2025.db"
    shutil.copyfile(sample_analytics, odd)
    ds = serve_mod.build_datasette(odd)
    assert ds.amiga_database == "amiga prod.2025"
    served = Path(ds.databases["amiga prod.2025"].path)
    assert served.parent != odd.parent and not ds.databases["amiga prod.2025"].is_mutable
    odd.write_bytes(b"overwritten by a later sync")  # the served copy does not notice
    paths = serve_mod.page_paths(ds)
    assert any(p.startswith("/amiga+prod~2E2025/") for p in paths), paths
    for p, response in zip(paths, fetch(ds, paths)):
        assert response.status_code == 200, p
    chart_page = next(p for p in paths if p.endswith("/cost_per_day"))
    assert fetch_one(ds, chart_page + ".json").json()["rows"]


def test_serves_a_database_an_older_version_wrote(sample_analytics, tmp_path):
    """A database written before duration_buckets, the top errors' index, duration_ranks_by_agent and latency_totals
    (m008, not synced since): its snapshot gets the missing migrations, so every page answers, with the same figures
    as a migrated database."""
    from amiga_analytics.store.schema import FAILURE_GROUPS_INDEX

    old = tmp_path / "analytics.db"
    shutil.copyfile(sample_analytics, old)
    conn = sqlite3.connect(old)
    for table in ("duration_buckets", "duration_ranks_by_agent", "latency_totals"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute(f"DROP INDEX {FAILURE_GROUPS_INDEX}")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name IN ('m009_duration_buckets', 'm010_failure_groups', "
                 "'m011_bots', 'm012_duration_ranks_by_agent')")
    conn.commit()
    conn.close()
    ds = serve_mod.build_datasette(old)
    paths = serve_mod.page_paths(ds)
    for p, response in zip(paths, fetch(ds, paths)):
        assert response.status_code == 200, p
    dropped = {"duration_buckets", "duration_ranks_by_agent", "latency_totals"}
    assert set(db_tables(old)) == set(db_tables(sample_analytics)) - dropped  # the file is left alone
    agent = sqlite3.connect(sample_analytics).execute("SELECT agent_type FROM tool_calls LIMIT 1").fetchone()[0]
    for path in ("/analytics/latency_by_tool.json?_shape=array", "/analytics/top_errors.json?_shape=array",
                 f"/analytics/daily_latency.json?agent_type={agent}&_shape=array"):
        got = fetch_one(ds, path).json()
        assert got and got == fetch_one(serve_mod.build_datasette(sample_analytics), path).json(), path


def test_counts_are_precomputed(sample_ds, sample_analytics):
    name = sample_ds.amiga_database
    counts = {t: v["count"] for t, v in sample_ds.inspect_data[name]["tables"].items()}
    conn = sqlite3.connect(f"file:{sample_analytics}?mode=ro", uri=True)
    for table in db_tables(sample_analytics):
        assert counts[table] == conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0], table
    conn.close()
    assert sample_ds.setting("suggest_facets") is False
    # Bounded, so that a few requests cannot hold every SQL thread (tests/test_view_holes.py times it).
    assert sample_ds.setting("facet_time_limit_ms") <= 500 and sample_ds.setting("sql_time_limit_ms") <= 1000


def test_build_datasette_refuses_what_sync_did_not_write(tmp_path, sample_db):
    with pytest.raises(NotAnAnalyticsDatabase):
        serve_mod.build_datasette(tmp_path / "missing.db")
    with pytest.raises(NotAnAnalyticsDatabase):
        serve_mod.build_datasette(sample_db)  # a bot database, not an analytics one


@pytest.mark.parametrize("kind", ["missing", "text", "bot"])
def test_serve_command_prints_one_line_and_exits_2(kind, tmp_path, sample_db):
    target = {"missing": tmp_path / "nope.db", "text": tmp_path / "notes.db", "bot": sample_db}[kind]
    if kind == "text":
        target.write_text("not sqlite at all")
    result = CliRunner().invoke(cli, ["serve", str(target), "--port", "0"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output


def test_plain_datasette_command_with_metadata_yml(sample_analytics, tmp_path):
    """`datasette analytics.db -m metadata.yml`: the committed file works without amiga-analytics serve."""
    from datasette.cli import cli as datasette_cli

    db = tmp_path / "analytics.db"
    shutil.copyfile(sample_analytics, db)
    runner = CliRunner()

    def get(path):
        result = runner.invoke(datasette_cli, [str(db), "-m", str(METADATA_YML), "--get", path])
        return result

    ok = get("/analytics/cost_per_day.json?_shape=array")
    assert ok.exit_code == 0, ok.output
    assert '"cost_usd"' in ok.output
    assert get("/analytics/tool_calls.json?_size=1").exit_code == 0
    assert get("/analytics.json?sql=select+1").exit_code == 1  # 403: allow_sql is false
    assert get("/analytics/sync_state.json").exit_code == 1  # 403: internal table
