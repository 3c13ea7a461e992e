"""Mask secrets on the way into the analytics database.

The bot's own sanitiser only looks at top-level parameter *keys* (bot-data.md §2.6), so credentials inside a
Bash command (``export OPENAI_API_KEY=sk-…``, ``curl -H 'Authorization: Bearer …'``, ``--password=…``) and in
error texts reach its database. :func:`mask` replaces each with ``<masked>`` (keeping the harmless prefix, such
as ``Bearer `` or ``OPENAI_API_KEY=``, so the text still reads), and e-mail addresses and bcrypt hashes with
``<email>`` and ``<password-hash>``. Replacements contain no quote or backslash and never swallow one, so a
JSON text stays valid JSON.

>>> mask("export OPENAI_API_KEY=sk-proj-7012897840C8ED28AE81F649 && pytest")
('export OPENAI_API_KEY=<masked> && pytest', 1)
>>> mask("curl -H 'Authorization: Bearer ghp_5F57E6E70C2E95CA4F0D8685' https://x")
("curl -H 'Authorization: Bearer <masked>' https://x", 1)
>>> mask("mail bob@example.com")
('mail <email>', 1)
"""

from __future__ import annotations

import re

MASK = "<masked>"

# A value stops at white space, quotes, backslashes (JSON escapes) and shell separators.
_V = r"[^\s\"'\\;&|]+"
# An optional opening quote before a value, plain or JSON-escaped; it is kept, the value is masked.
_Q = r"(?:\\?[\"'])?"
# Names that say "this is a secret", in keys, environment variables and flags.
_SECRET_NAME = r"[A-Za-z0-9_\-]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD|CREDENTIALS?|AUTH)[A-Za-z0-9_\-]*"

_NAMES = ("key", "token", "secret", "pass", "pwd", "credential", "auth")
# Where a token may start: not inside a word, or right after a JSON escape such as \n (the text of a JSON
# string keeps "\nsk-…" as backslash, n, s, k, so a plain \b would not see the start).
_ESCAPED = r"(?<=\\[ntrbf])|(?<=\\u[0-9a-fA-F]{4})"
_B = r"(?:" + _ESCAPED + r"|(?<![A-Za-z0-9_]))"
_L = r"(?:" + _ESCAPED + r"|(?<![A-Za-z0-9_\-]))"  # the same, where a dash also continues a word

# (triggers, pattern, replacement). A rule runs only when one of its trigger words occurs in the lower-cased
# text (substring tests are far cheaper than the regular expressions). Order matters: specific token formats
# first, then contextual rules. Every pattern starts a match only at the start of a run of its characters, so a
# scan stays linear on long texts.
_RULES: list[tuple[tuple[str, ...], re.Pattern[str], str]] = [
    # A private key block; the bot cuts strings at 500 characters, so the END line is often missing: stop
    # before the closing quote of the JSON string instead.
    (("private key",),
     re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|(?=\\?\")|$)", re.S), MASK),
    (("$2",), re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"), "<password-hash>"),
    (("sk-",), re.compile(_B + r"sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{16,}"), MASK),
    (("k_live_", "k_test_"), re.compile(_B + r"[rs]k_(?:live|test)_[A-Za-z0-9]{10,}"), MASK),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})"), MASK),
    (("glpat-", "hf_", "npm_", "dckr_pat_"),
     re.compile(_B + r"(?:glpat-[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,}|npm_[A-Za-z0-9]{20,}|dckr_pat_[A-Za-z0-9_\-]{16,})"),
     MASK),
    (("akia", "asia"), re.compile(_B + r"(?:AKIA|ASIA)[0-9A-Z]{12,}\b"), MASK),
    (("xox",), re.compile(_B + r"xox[abprs]-[A-Za-z0-9\-]{10,}"), MASK),
    (("hooks.slack",), re.compile(r"(hooks\.slack\.com/services/)[A-Za-z0-9/]+"), r"\1" + MASK),
    (("/bot", "telegram"), re.compile(r"(?<![0-9])\d{6,12}:[A-Za-z0-9_\-]{30,}"), MASK),  # Telegram bot tokens
    (("aiza",), re.compile(_B + r"AIza[0-9A-Za-z_\-]{30,}"), MASK),
    (("eyj",), re.compile(_B + r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), MASK),
    (("bearer",), re.compile(r"(?i)(" + _B + r"bearer\s+)(?!<masked>)[A-Za-z0-9._~+/=\-]{12,}"), r"\1" + MASK),
    (("token", "basic"),
     re.compile(r"(?i)(" + _B + r"(?:token|basic)\s+)(?!<masked>)(?=[A-Za-z._~+/=\-]*\d)[A-Za-z0-9._~+/=\-]{8,}"), r"\1" + MASK),
    # "password": "…" anywhere in a JSON text, nested or escaped (the bot only redacts top-level keys).
    (_NAMES, re.compile(r"(?i)(\\?\"" + _SECRET_NAME + r"\\?\"\s*:\s*\\?\")(?!<)[^\"\\]+"), r"\1" + MASK),
    # NAME=value, NAME: value, NAME="value" (environment variables, config lines, headers).
    (_NAMES, re.compile(r"(?i)((?<![A-Za-z0-9_\-])" + _SECRET_NAME + r"\s*[=:]\s*" + _Q + r")"
                        r"(?!<masked>|<redacted>|(?:bearer|basic|token)\s)" + _V), r"\1" + MASK),
    # Command-line flags: --password=…, --token …, --user user:pass, redis-cli -a …
    (("-pass", "-token", "-api", "-secret", "-auth", "-user"),
     re.compile(r"(?i)(" + _L + r"--?(?:password|passwd|pass|token|api[-_]?key|secret|auth|user)(?:=|\s+)"
                + _Q + r")(?!<masked>)" + _V), r"\1" + MASK),
    (("-u",), re.compile(r"(" + _L + r"(?:curl|wget|http)\b[^|;&\n\"]*?\s-u\s*" + _Q + r")(?!<masked>)" + _V),
     r"\1" + MASK),
    (("mysql", "sshpass", "docker", "redis-cli"),
     re.compile(r"(\b(?:mysql(?:dump|admin)?|sshpass|docker\s+login|redis-cli)\b[^|;&\n\"]*?\s-[pa]\s*" + _Q + r")"
                r"(?!<masked>)" + _V), r"\1" + MASK),
    (("aws_",), re.compile(r"(?i)(" + _B + r"aws_(?:secret_access_key|session_token)\s+" + _Q + r")(?!<masked>)" + _V),
     r"\1" + MASK),
    (("://",), re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@\"']+:)(?!<masked>)[^@\s/\"']+(@)"), r"\1" + MASK + r"\2"),
    (("@",), re.compile(r"(?:" + _ESCAPED + r"|(?<![A-Za-z0-9._%+\-\\]))[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
     "<email>"),
]


# Every trigger once, for the quick test that lets most texts skip the rules.
_TRIGGERS = tuple(dict.fromkeys(t for rule in _RULES for t in rule[0]))

MAX_TEXT = 100_000  # characters kept of one text; the bot itself cuts parameter strings at 500


def mask(text: str | None) -> tuple[str | None, int]:
    """Return ``(masked_text, number_of_secrets_masked)``; ``None`` stays ``None``.

    Texts longer than :data:`MAX_TEXT` characters are cut there first (marked with ``…[cut]``).
    """
    if not text:
        return text, 0
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "…[cut]"
    low = text.lower()
    for word in _TRIGGERS:
        if word in low:
            break
    else:
        return text, 0
    total = 0
    for triggers, pattern, replacement in _RULES:
        for word in triggers:
            if word in low:
                text, n = pattern.subn(replacement, text)
                total += n
                break
    return text, total
