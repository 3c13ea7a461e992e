"""The request guard of ``amiga-analytics serve``: what a reader may ask of the view, checked before Datasette.

An ASGI wrapper (registered by :func:`amiga_analytics.web.serve.build_datasette`, on its own instances only):

* only GET, HEAD and OPTIONS (405 otherwise);
* of Datasette's ``/-/`` pages only the ones a reader needs (:data:`PUBLIC_DASH_PAGES`: static files, the
  dashboards, metadata, settings, versions, plugins) and the view's own ``/-/amiga-follow.json`` (the state of
  ``serve --follow``); ``/-/databases``, ``/-/threads`` (local paths), the
  permission and debug pages answer 404;
* at most :data:`MAX_FACETS` facets asked for in one request, none on a free-text column (400): with
  ``facet_time_limit_ms`` a request's facets take a bounded time, so a few requests cannot hold every SQL thread;
* free text on purpose: a table page (HTML, JSON or CSV) of a table with free-text columns
  (:data:`FREE_TEXT_COLUMNS`: parameters, error texts, task descriptions, messages) leaves them out unless the
  reader picks columns (any ``_col`` / ``_nocol``, e.g. ``?_col=parameters``); a row page shows the whole row.
  The texts were masked at sync time either way.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

PUBLIC_DASH_PAGES = ("/-/static/", "/-/static-plugins/", "/-/dashboards", "/-/metadata", "/-/settings",
                     "/-/versions", "/-/plugins", "/-/amiga-follow.json")
MAX_FACETS = 3
FREE_TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "tool_calls": ("parameters", "error"),
    "tasks": ("description", "error"),
    "agent_events": ("message",),
    "router_messages": ("content",),
}
FREE_TEXT = frozenset(c for columns in FREE_TEXT_COLUMNS.values() for c in columns)
_TABLE_PAGE = re.compile(r"^/[^/]+/(?P<table>[^/]+?)(?:\.json|\.csv)?$")
_FACET_KEYS = ("_facet", "_facet_array", "_facet_date")

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _refuse(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *(headers or [])]})
    await send({"type": "http.response.body", "body": text.encode() + b"\n"})


def refusal(scope: Scope) -> tuple[int, str] | None:
    """(status, reason) if the request is refused, else None."""
    if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
        return 405, "Read-only: GET requests only."
    path = scope["path"]
    if path.startswith("/-/") and not path.startswith(PUBLIC_DASH_PAGES):
        return 404, "Not found."
    params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    facets = [value for key, value in params if key in _FACET_KEYS]
    if len(facets) > MAX_FACETS:
        return 400, f"At most {MAX_FACETS} facets per request."
    if any(value in FREE_TEXT for value in facets):
        return 400, "Facets on free-text columns are refused."
    return None


def with_default_columns(scope: Scope) -> Scope:
    """``scope`` with ``_nocol`` for the free-text columns of a table page whose reader picked no columns."""
    match = _TABLE_PAGE.match(scope["path"])
    if not match or match.group("table") not in FREE_TEXT_COLUMNS:
        return scope
    query = scope.get("query_string", b"").decode("latin-1")
    params = parse_qsl(query, keep_blank_values=True)
    if any(key in ("_col", "_nocol") for key, _ in params):
        return scope
    extra = urlencode([("_nocol", c) for c in FREE_TEXT_COLUMNS[match.group("table")]])
    return {**scope, "query_string": ((query + "&" if query else "") + extra).encode("latin-1")}


def guard(app: Callable) -> Callable:
    """The ASGI app ``app`` behind the guard."""

    async def guarded(scope: Scope, receive: Callable, send: Send) -> None:
        if scope["type"] == "http":
            refused = refusal(scope)
            if refused is not None:
                status, text = refused
                allow = [(b"allow", b"GET, HEAD, OPTIONS")] if status == 405 else []
                await _refuse(send, status, text, allow)
                return
            scope = with_default_columns(scope)
        await app(scope, receive, send)

    return guarded
