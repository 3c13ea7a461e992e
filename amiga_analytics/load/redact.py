"""Mask secrets on the way into the analytics database.

The bot's own sanitiser only looks at top-level parameter *keys* (bot-data.md §2.6), so credentials inside a
Bash command, a written file, a nested JSON value, an error text, a task description or an agent message reach
its database. :func:`mask` replaces each with ``<masked>`` (keeping the harmless name or prefix, such as
``Bearer `` or ``OPENAI_API_KEY=``, so the text still reads), e-mail addresses with ``<email>`` and bcrypt
hashes with ``<password-hash>``. It recognises secrets three ways (see :mod:`.secrets`):

* by format: the token shapes public secret scanners know (``secrets/formats.py``, ~140 providers);
* by position: assignments, flags, headers, URL credentials, key blocks, netrc and .pgpass lines, ``echo X |
  gh secret set``, and prose such as "use the key X" (``secrets/context.py``, names in ``secrets/names.py``);
* by shape alone: a quoted string, or a whole JSON value, that is one high-entropy token.

A JSON text (tool parameters) is decoded, each string masked (a value under a secret-naming key wholly), and
encoded again, so a mask never breaks the JSON and covers the whole secret whatever characters it holds.
A text the bot cut at 500 characters (``…ghp_1a2b...``) has its cut token masked when it begins like a known
token. A cheap prefilter (substring triggers) lets texts without any candidate skip the regular expressions.

>>> mask("export OPENAI_API_KEY=sk-proj-7012897840C8ED28AE81F649 && pytest")
('export OPENAI_API_KEY=<masked> && pytest', 1)
>>> mask("curl -H 'Authorization: Bearer ghp_5F57E6E70C2E95CA4F0D8685' https://x")
("curl -H 'Authorization: Bearer <masked>' https://x", 1)
>>> mask("mail bob@example.com")
('mail <email>', 1)
>>> mask("git clone git@github.com:org/repo && pip install --user requests")
('git clone git@github.com:org/repo && pip install --user requests', 0)
"""

from __future__ import annotations

import json
import re

from .secrets.context import REPLACEMENT, RULES
from .secrets.formats import PREFIXES, compiled_formats
from .secrets.names import classify, is_placeholder, random_token, token_like

MASK = "<masked>"
MAX_TEXT = 100_000  # characters kept of one text; the bot itself cuts parameter strings at 500

_FORMATS = compiled_formats()
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_LONG = re.compile(r"[A-Za-z0-9+=_\-.~]{20,}")  # the run that the empty trigger stands for
_ALL_TRIGGERS = {t for t, _ in _FORMATS} | {t for rule in RULES for t in rule[0]}


def _trie_pattern(words: list[str]) -> str:
    """One regular expression for any of ``words``, with shared prefixes factored out (a flat alternation of
    ~200 words is several times slower to search)."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def walk(node: dict) -> str:
        if "" in node:  # a shorter word ends here: it alone suffices
            return ""
        parts = [re.escape(char) + walk(child) for char, child in sorted(node.items())]
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return walk(tree)


_LOW_WORDS = [t for t in _ALL_TRIGGERS if t and t == t.lower()]
_CASE_WORDS = [t for t in _ALL_TRIGGERS if t != t.lower()]
# Every position where a trigger starts (a trigger found stands for every longer trigger it begins).
_EVERY_LOW = re.compile("(?=(" + _trie_pattern(_LOW_WORDS) + "))")
_EVERY_CASE = re.compile("(?=(" + _trie_pattern(_CASE_WORDS) + "))")


def _shortest_prefix(trigger: str, words: list[str]) -> str:
    return min((w for w in words if trigger.startswith(w)), key=len)
_CUT = "..."  # what the bot appends to a string it cut at 500 characters
_CUT_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-])(?P<v>[A-Za-z0-9_\-.+/=]{4,})$")


def mask(text: str | None) -> tuple[str | None, int]:
    """Return ``(masked_text, number_of_secrets_masked)``; ``None`` stays ``None``.

    Texts longer than :data:`MAX_TEXT` characters are cut there first (marked with ``…[cut]``).
    """
    if not text:
        return text, 0
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "…[cut]"
    low = text.lower()
    if not _is_candidate(text, low):
        return text, 0
    if text[0] in "{[":
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, (dict, list)):
            count = [0]
            masked = _walk(value, "", count)
            if not count[0]:
                return text, 0
            return json.dumps(masked, ensure_ascii=text.isascii()), count[0]
    return _mask_string(text, low)


# The gate in one search of the lower-cased text: any lower-case trigger or a long run of token characters (every
# format whose trigger holds capitals, AKIA…, AC…, SK…, …:A…, is such a run of 20 or more).
_GATE = re.compile(_trie_pattern(_LOW_WORDS) + r"|[a-z0-9+=_\-.~]{20,}")


def _is_candidate(text: str, low: str) -> bool:
    return _GATE.search(low) is not None


def _kind(trigger: str) -> int:
    """0: compared lower-cased, 1: compared as written, 2: the empty trigger (a long run of token characters)."""
    return 2 if not trigger else 0 if trigger == trigger.lower() else 1


def _key(trigger: str) -> str:
    """What _mask_plain finds for ``trigger``: the shortest trigger it begins with ("" for the empty one)."""
    if not trigger:
        return ""
    return _shortest_prefix(trigger, _LOW_WORDS if _kind(trigger) == 0 else _CASE_WORDS)


_FMT = [(_key(t), p) for t, p in _FORMATS]
_RULES = [(frozenset(_key(t) for t in triggers), p, check, REPLACEMENT.get(triggers[0], MASK))
          for triggers, p, check in RULES]


def _walk(value, key: str, count: list[int]):
    """``value`` with its strings masked; ``key`` is the name it stands under."""
    if isinstance(value, dict):
        return {k: _walk(v, str(k), count) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, key, count) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and classify(key) == "strong":
        count[0] += 1
        return MASK
    if not isinstance(value, str) or not value:
        return value
    kind = classify(key) if key else None
    if kind and not is_placeholder(value) and (kind == "strong" or token_like(value)):
        count[0] += 1
        return MASK
    if len(value) < 8:
        return value
    if random_token(value):
        count[0] += 1
        return MASK
    low = value.lower()
    if _is_candidate(value, low):
        value, n = _mask_string(value, low)
        count[0] += n
    return value


def _mask_string(text: str, low: str) -> tuple[str, int]:
    """A plain (not JSON) text masked; a text cut by the bot has its last, cut token looked at too."""
    cut = text.endswith(_CUT)
    if cut:
        text = text[: -len(_CUT)]
    text, n = _mask_plain(text, low)
    if cut:
        match = _CUT_TOKEN.search(text)
        if match and match.group("v").startswith(PREFIXES):
            text = text[: match.start("v")] + MASK
            n += 1
        text += _CUT
    return text, n


def _mask_plain(text: str, low: str) -> tuple[str, int]:
    total = 0
    found = {m.group(1) for m in _EVERY_LOW.finditer(low)} | {m.group(1) for m in _EVERY_CASE.finditer(text)}
    if _LONG.search(text):
        found.add("")
    formats = [p for key, p in _FMT if key in found]
    rules = [(p, check, repl) for keys, p, check, repl in _RULES if not found.isdisjoint(keys)]
    for pattern in formats:
        text, n = _sub_format(pattern, text)
        total += n
    for pattern, check, replacement in rules:
        text, n = _sub_context(pattern, check, text, replacement)
        total += n
    return text, total


def _starts_token(text: str, start: int) -> bool:
    """Whether a token may start at ``start``: not inside a word (a JSON escape such as \\n does not count)."""
    if start == 0 or text[start - 1] not in _TOKEN_CHARS:
        return True
    return start >= 2 and text[start - 2] == "\\" and text[start - 1] in "ntrbf"


def _sub_format(pattern: re.Pattern[str], text: str) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if not _starts_token(match.string, match.start()):
            return match.group(0)
        count += 1
        return MASK

    return pattern.sub(replace, text), count


def _sub_context(pattern: re.Pattern[str], check, text: str, replacement: str) -> tuple[str, int]:
    """Replace the value of each match ``check`` accepts. After a match it rejects, the search goes on from the
    start of what it took for the value, so a name inside it is still seen (``ACCESSID=DB_PASSWORD: X``: the
    value ``DB_PASSWORD:`` is no secret, the ``X`` after it is)."""
    out, count, pos, done = [], 0, 0, 0
    while (match := pattern.search(text, pos)) is not None:
        groups = match.groupdict()
        group = next((g for g in ("v", "v2", "v3") if groups.get(g) is not None), None)
        if group is not None and check(groups[group], groups.get("n") or ""):
            out += [text[done:match.start(group)], replacement, text[match.end(group):match.end()]]
            done = pos = max(match.end(), match.start() + 1)
            count += 1
        elif group is not None and match.start(group) > match.start():
            pos = match.start(group)
        else:
            pos = match.start() + 1
    out.append(text[done:])
    return "".join(out), count


# Where masked texts come from, in the order the sync summary lists them.
CARRIERS = ("parameters", "tool errors", "task descriptions", "task errors", "agent messages", "tool names",
            "router messages")


def describe_masked(counts: dict[str, int]) -> str:
    """The sync summary's account of what was masked, by carrier: ``"masked this run: 120 in parameters, 8 in
    tool errors"`` (secrets, e-mail addresses and password hashes alike).

    >>> describe_masked({"tool errors": 8, "parameters": 1200})
    'masked this run: 1,200 in parameters, 8 in tool errors'
    >>> describe_masked({})
    'masked this run: nothing'
    """
    parts = [f"{counts[c]:,} in {c}" for c in CARRIERS if counts.get(c)]
    return "masked this run: " + (", ".join(parts) if parts else "nothing")


def tool_name_of(value) -> tuple[str | None, bool]:
    """The tool name in ``agent_status.metadata["tool"]`` and whether it had to be repaired: a damaged
    metadata such as ``{"tool": {"name": "Bash"}}`` gives ``("Bash", True)``; a value that holds no name gives
    ``(None, True)``.

    >>> tool_name_of("Bash"), tool_name_of({"name": "Bash"}), tool_name_of(["x"]), tool_name_of(None)
    (('Bash', False), ('Bash', True), (None, True), (None, False))
    """
    if value is None or isinstance(value, str):
        return value, False
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"], True
    return None, True
