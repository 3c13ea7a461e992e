"""The report as Markdown, from the same layout as the HTML.

Markdown stays in Python rather than a template: it is a list of lines where every table cell needs its own
escaping (``|`` and newlines) and blank lines matter, which a template would only hide behind whitespace control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .blocks import Actions, Bullets, Cards, Chart, P, Section, Table
from .layout import footer, layout, subtitle, title

if TYPE_CHECKING:
    from .model import WeeklyReport

__all__ = ["markdown"]


def _md_escape(text: str) -> str:
    # "<" escaped: an error template's placeholders (<n>, <path>) would read as HTML tags
    return str(text).replace("|", "\\|").replace("<", "\\<").replace("\n", " ")


def _body(sections: list[Section]) -> list[str]:
    lines: list[str] = []
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Cards):
                lines += ["| | this week | change |", "| --- | ---: | --- |"]
                for label, value, change, verdict in block.items:
                    mark = {"better": "better", "worse": "**worse**"}.get(verdict, verdict)
                    lines.append(f"| {_md_escape(label)} | {_md_escape(value)} | {_md_escape(change)} — {mark} |")
                lines.append("")
            elif isinstance(block, P):
                lines += [f"_{block.text}_" if block.muted else block.text, ""]
            elif isinstance(block, Actions):
                for i, (action, evidence, links) in enumerate(block.items, 1):
                    refs = ", ".join(f"[{label}]({href})" for label, href in links)
                    lines.append(f"{i}. **{action}** {evidence} ({refs})")
                lines.append("")
            elif isinstance(block, Bullets):
                lines += [f"- {item}" for item in block.items] + [""]
            elif isinstance(block, Chart):
                lines += [f"![{block.alt}]({block.file})", ""]
            elif isinstance(block, Table):
                if block.caption:
                    lines += [f"**{block.caption}**", ""]
                lines.append("| " + " | ".join(_md_escape(h) for h in block.headers) + " |")
                lines.append("| " + " | ".join("---:" if a == "r" else "---" for a in block.align) + " |")
                lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in block.rows]
                lines.append("")
    return lines


def markdown(report: WeeklyReport) -> str:
    """The report as Markdown; charts are referenced as the PNG files written beside it."""
    lines = [f"# {title(report)}", "", subtitle(report), ""]
    lines += _body(layout(report))
    lines += ["---", "", f"_{footer(report)}_", ""]
    return "\n".join(lines)
