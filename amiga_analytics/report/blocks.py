"""The report's building blocks: a layout is a list of :class:`Section`, each a list of blocks, rendered the same
way to HTML (templates/blocks.html.j2) and to Markdown (render_md.py). ``kind`` names a block for the templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Actions", "Block", "Bullets", "Cards", "Chart", "P", "Section", "Table"]


@dataclass
class P:
    kind: ClassVar[str] = "p"
    text: str
    muted: bool = False


@dataclass
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: list[str]


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    headers: list[str]
    rows: list[list[str]]
    align: str  # one letter per column: l (text, wraps), n (a name: left, never wraps), r (a number)
    caption: str | None = None


@dataclass
class Chart:
    kind: ClassVar[str] = "chart"
    file: str
    alt: str


@dataclass
class Cards:
    kind: ClassVar[str] = "cards"
    items: list[tuple[str, str, str, str]]  # label, value, change text, verdict


@dataclass
class Actions:
    kind: ClassVar[str] = "actions"
    items: list[tuple[str, str, list[tuple[str, str]]]]  # action, evidence, links (label, href)


Block = P | Bullets | Table | Chart | Cards | Actions


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Block]
