"""The report as one self-contained HTML page, from templates/report.html.j2 (blocks in blocks.html.j2) and
static/report.css (inlined), with the charts embedded as base64 PNG.

Autoescaping is on for the ``.html.j2`` templates. Every value goes through :func:`html.escape` (quotes too, as
``&quot;`` and ``&#x27;``: the bytes the report has always had, where Jinja's own escape would write ``&#34;``
and ``&#39;``); only the stylesheet, a file of this package, is marked safe.
"""

from __future__ import annotations

import base64
import html as html_mod
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

import jinja2
from markupsafe import Markup

from .layout import footer, layout, subtitle, title

if TYPE_CHECKING:
    from .model import WeeklyReport

__all__ = ["html"]


def html(report: WeeklyReport, pngs: dict[str, bytes]) -> str:
    """The report as one HTML page; ``pngs`` are the chart PNGs by file name (those the layout shows)."""
    return _environment().get_template("report.html.j2").render(
        title=title(report), subtitle=subtitle(report), footer=footer(report), sections=layout(report),
        images={name: _image(png) for name, png in pngs.items()}, css=Markup(_stylesheet()),
    )


def _escape(value: object) -> Markup:
    """What every ``{{ … }}`` writes: the value escaped by :func:`html.escape` (trusted Markup as it is)."""
    if isinstance(value, Markup):
        return value
    return Markup(html_mod.escape(str(value), quote=True))


def _image(png: bytes) -> dict[str, object]:
    """A PNG as the template shows it: base64 data and its pixel size (from the IHDR chunk)."""
    return {"data": base64.b64encode(png).decode("ascii"), "width": int.from_bytes(png[16:20], "big"),
            "height": int.from_bytes(png[20:24], "big")}


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["zip"] = zip
    return env


@cache
def _stylesheet() -> str:
    return files(__package__).joinpath("static", "report.css").read_text(encoding="utf-8").strip()
