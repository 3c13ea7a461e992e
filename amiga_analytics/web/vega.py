"""The charts of the Datasette view: Vega-Lite specs drawn above the chart queries' tables, the HTML that draws
them (``templates/chart.html``) and the datasette-dashboards page that lists them.

Charts are drawn by the datasette-dashboards plugin's renderer and its locally served copies of Vega, Vega-Lite
and vega-embed (no CDN). They live on the chart queries' own pages (``/analytics/cost_per_day``...) and read
that canned query's JSON, because the plugin's dashboards need arbitrary SQL, which this instance refuses
(``allow_sql: false``). The plugin's ``/-/dashboards/amiga`` page lists the chart pages.
"""

from __future__ import annotations

import functools
import html
import json
from typing import Any

import jinja2

DASHBOARD = "amiga"
"""Slug of the datasette-dashboards page that lists the charts (``/-/dashboards/amiga``)."""

PLUGIN_STATIC = "../-/static-plugins/datasette_dashboards/"
"""Where datasette-dashboards serves its files, relative to a canned query page (``/<db>/<query>``)."""

PLUGIN_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "dashboards.js")

# Vega-Lite specs drawn above the chart queries' tables (datasette-dashboards' `display`).
_AXIS_DAY = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": "day",
             "axis": {"format": "%b %d", "labelAngle": 0}}
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier: never fetched
CHARTS: dict[str, dict[str, Any]] = {
    "cost_per_day": {
        "mark": {"type": "bar", "tooltip": True, "color": "#0072B2"},
        "encoding": {
            "x": _AXIS_DAY,
            "y": {"field": "cost_usd", "type": "quantitative", "title": "cost (USD)"},
        },
        "height": 260,
    },
    "tool_cost_by_tool": {
        "transform": [{"filter": "datum.cost_usd > 0"}],  # no empty rows for the tools that cost nothing
        "mark": {"type": "bar", "tooltip": True, "color": "#0072B2"},
        "encoding": {
            "y": {"field": "tool_name", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "cost_usd", "type": "quantitative", "title": "cost (USD)"},
        },
    },
    "error_rates_by_tool": {
        "transform": [{"filter": "datum.error_rate != null"}],
        "mark": {"type": "bar", "tooltip": True, "color": "#D55E00"},
        "encoding": {
            "y": {"field": "tool_name", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "error_rate", "type": "quantitative", "title": "error rate (failed / completed)",
                  "axis": {"format": "%"}},
        },
    },
    "task_throughput": {
        "transform": [{"fold": ["created", "completed", "failed", "stopped"], "as": ["series", "tasks"]}],
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": _AXIS_DAY,
            "y": {"field": "tasks", "type": "quantitative", "title": "tasks per day"},
            "color": {
                "field": "series", "type": "nominal", "title": None,
                "scale": {"domain": ["created", "completed", "failed", "stopped"],
                          "range": ["#E69F00", "#009E73", "#D55E00", "#999999"]},
            },
        },
        "height": 260,
    },
}


@functools.lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    """The web templates; ``|html`` escapes as :func:`html.escape` does (the text metadata.yml has always had)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"), autoescape=False,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["html"] = html.escape
    return env


def chart_html(query: str, description: str) -> str:
    """The ``description_html`` of a chart query: its description, then a chart of its own JSON rows.

    The chart is drawn by datasette-dashboards' ``renderChart`` with the plugin's local Vega files; the data URL
    is ``<query>.json`` beside the page, with the page's own ``since`` / ``until`` parameters.
    """
    display = {"$schema": VEGA_LITE_SCHEMA, **CHARTS[query]}
    chart = {"library": "vega-lite", "db": query, "query": "", "display": display}
    spec = json.dumps(chart, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return templates().get_template("chart.html").render(
        query=query, query_json=json.dumps(query), description=description, spec=spec, static=PLUGIN_STATIC,
        scripts=PLUGIN_SCRIPTS,
    )


def dashboard(database: str, queries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The datasette-dashboards configuration: one page listing the chart queries of ``database``."""
    from datasette.utils import tilde_encode

    links = f"- [Dashboard](/{tilde_encode(database)}/dashboard): {queries['dashboard']['description']}\n"
    links += "\n".join(
        f"- [{queries[name]['title']}](/{tilde_encode(database)}/{name}): {queries[name]['description']}"
        for name in CHARTS
    )
    return {
        DASHBOARD: {
            "title": "AMIGA bot charts",
            "description": "Charts of the canned queries; each page takes a period (since / until).",
            "charts": {"chart-pages": {"library": "markdown", "display": links}},
        }
    }
