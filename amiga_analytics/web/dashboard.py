"""The dashboard page: ``/<db>/dashboard``, the canned query of the period's key figures, whose description draws
the charts of the same period and filters (cost per day by model, calls and error rate per day, tasks per day
with their success rate, latency p50 / p95 per tool and day, the most expensive tasks, the top errors).

It works with plain ``datasette -m metadata.yml`` as with ``amiga-analytics serve``: the page is Datasette's own
canned-query page (its form is the period picker and the filters), the charts are Vega-Lite specs drawn by the
locally served Vega files of datasette-dashboards, each from its canned query's JSON with the page's parameters
(only those the query takes); the page adds each bar's link (``url``: a task's row, an error's calls in
``tool_calls`` over the period). A query that refuses a parameter answers 400 with its message: the card shows it.
"""

from __future__ import annotations

import json
from typing import Any

from .vega import PLUGIN_STATIC, templates

_DAY = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": None,
        "axis": {"format": "%b %d", "labelAngle": 0, "labelOverlap": True}}
_USD = {"format": "$,.2f"}

#: Each chart: its card title, the canned query it reads and the Vega-Lite spec (``width`` is the card's).
CHARTS: dict[str, dict[str, Any]] = {
    "cost": {
        "title": "Cost per day by model",
        "query": "daily_cost_by_model",
        "spec": {
            "transform": [{"filter": "datum.cost_usd > 0"}],
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "x": _DAY,
                "y": {"aggregate": "sum", "field": "cost_usd", "type": "quantitative", "title": "cost (USD)",
                      "axis": {"format": "$,.2f"}},
                "color": {"field": "model_id", "type": "nominal", "title": None,
                          "legend": {"orient": "bottom", "columns": 2, "labelLimit": 260}},
            },
        },
    },
    "calls": {
        "title": "Calls and error rate per day",
        "query": "daily_calls",
        "spec": {
            "encoding": {"x": _DAY},
            "layer": [
                {"mark": {"type": "bar", "color": "#56B4E9", "tooltip": True},
                 "encoding": {"y": {"field": "calls", "type": "quantitative", "title": "calls"}}},
                {"mark": {"type": "line", "color": "#D55E00", "point": True, "tooltip": True},
                 "encoding": {"y": {"field": "error_rate", "type": "quantitative", "title": "error rate",
                                    "axis": {"format": "%", "titleColor": "#D55E00"}}}},
            ],
            "resolve": {"scale": {"y": "independent"}},
        },
    },
    "tasks": {
        "title": "Tasks per day and success rate",
        "query": "task_throughput",
        "spec": {
            "encoding": {"x": _DAY},
            "layer": [
                {"transform": [{"fold": ["completed", "failed", "stopped"], "as": ["status", "tasks"]}],
                 "mark": {"type": "bar", "tooltip": True},
                 "encoding": {
                     "y": {"field": "tasks", "type": "quantitative", "stack": True, "title": "tasks finished"},
                     "color": {"field": "status", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                               "scale": {"domain": ["completed", "failed", "stopped"],
                                         "range": ["#009E73", "#D55E00", "#999999"]}}}},
                {"mark": {"type": "line", "color": "#0072B2", "point": True, "tooltip": True},
                 "encoding": {"y": {"field": "success_rate", "type": "quantitative", "title": "success rate",
                                    "scale": {"domain": [0, 1]},
                                    "axis": {"format": "%", "titleColor": "#0072B2"}}}},
            ],
            "resolve": {"scale": {"y": "independent"}},
        },
    },
    "latency": {
        "title": "Latency per tool: median and 95th percentile",
        "query": "daily_latency",
        "spec": {
            "transform": [{"fold": ["p50_ms", "p95_ms"], "as": ["percentile", "ms"]},
                          {"calculate": "datum.ms / 1000", "as": "seconds"}],
            "mark": {"type": "line", "tooltip": True},
            "encoding": {
                "x": _DAY,
                "y": {"field": "seconds", "type": "quantitative", "title": "duration (s, log scale)",
                      "scale": {"type": "log"}},
                "color": {"field": "tool_name", "type": "nominal", "title": None,
                          "legend": {"orient": "bottom", "columns": 3}},
                "strokeDash": {"field": "percentile", "type": "nominal", "title": None,
                               "legend": {"orient": "bottom", "columns": 2}},
            },
        },
    },
    "expensive": {
        "title": "Most expensive tasks",
        "query": "most_expensive_tasks",
        "spec": {
            "transform": [{"window": [{"op": "row_number", "as": "rank"}]}, {"filter": "datum.rank <= 10"},
                          {"filter": "datum.cost_usd > 0"}],
            "mark": {"type": "bar", "color": "#0072B2", "tooltip": True, "cursor": "pointer"},
            "encoding": {
                "y": {"field": "task_id", "type": "nominal", "sort": "-x", "title": None},
                "x": {"field": "cost_usd", "type": "quantitative", "title": "cost (USD)", "axis": _USD},
                "href": {"field": "url"},
                "tooltip": [{"field": "task_id"}, {"field": "cost_usd", "format": "$,.2f"}, {"field": "status"},
                            {"field": "agent_type"}, {"field": "description"}],
            },
        },
    },
    "errors": {
        "title": "Top errors (click a bar for its calls)",
        "query": "top_errors",
        "spec": {
            "transform": [{"window": [{"op": "row_number", "as": "rank"}]}, {"filter": "datum.rank <= 10"},
                          {"calculate": "datum.tool_name + ' · ' + (datum.error_category || 'uncategorised')",
                           "as": "label"}],
            "mark": {"type": "bar", "color": "#D55E00", "tooltip": True, "cursor": "pointer"},
            "encoding": {
                "y": {"field": "label", "type": "nominal", "sort": "-x", "title": None,
                      "axis": {"labelLimit": 220}},
                "x": {"field": "count", "type": "quantitative", "title": "failed calls"},
                "href": {"field": "url"},
                "tooltip": [{"field": "label", "title": "tool · category"}, {"field": "count"},
                            {"field": "tasks"}, {"field": "example_error"}, {"field": "last_seen"}],
            },
        },
    },
}


def dashboard_html(description: str, params: dict[str, list[str]]) -> str:
    """The ``description_html`` of the ``dashboard`` query. ``params``: the parameters each chart query takes."""
    charts = {slug: {"title": c["title"], "query": c["query"], "params": params[c["query"]], "spec": c["spec"]}
              for slug, c in CHARTS.items()}
    payload = json.dumps(charts, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return templates().get_template("dashboard.html").render(description=description, charts=CHARTS,
                                                             payload=payload, static=PLUGIN_STATIC)
