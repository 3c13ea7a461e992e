"""Which names say "the value is a secret", and which values look like one.

A name (an environment variable, a JSON or YAML key, a command-line flag, a URL parameter) is split into
words: ``OPENAI_API_KEY`` → openai, api, key; ``clientSecret`` → client, secret. A *strong* name (password,
secret, api key, access token, …) marks any value as secret; a *weak* one (a bare ``key`` or ``token``) only a
value that looks like a token, so ``key=lambda``, ``"key": "home.title"`` and ``KeyError: 'user_id'`` stay.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

STRONG_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "passcode", "passwort", "contraseña", "secret", "secrets",
    "credential", "credentials", "apikey", "privatekey", "secretkey", "accesskey", "authtoken", "accesstoken",
    "clientsecret", "apisecret", "apitoken", "botToken".lower(), "pat", "pgpassword", "mysqlpwd",
})
SECRET_LAST = frozenset({"key", "token", "auth", "sig", "signature", "apikey", "dsn"})
# Words before "key"/"token" that make it a plain identifier, not a credential.
BENIGN_BEFORE = frozenset({
    "sort", "cache", "primary", "foreign", "partition", "group", "dict", "map", "lookup", "index", "row", "shard",
    "idempotency", "page", "next", "continuation", "i18n", "translation", "message", "msg", "hot", "short",
    "shortcut", "public", "pub", "unique", "composite", "join", "hash", "object", "s3", "sort_", "react", "list",
    "item", "track", "redis", "state", "query", "search", "csrf", "xsrf", "cursor", "sync", "event", "ssh_public",
    "compound", "column", "field", "label", "table", "range", "local", "storage", "store", "config", "dedup",
})
# Last words that name something about a secret, not the secret.
NOT_SECRET_LAST = frozenset({
    "id", "ids", "name", "names", "type", "types", "file", "files", "path", "dir", "length", "len", "size", "count",
    "field", "column", "error", "errors", "exception", "url", "prefix", "suffix", "format", "hint", "policy",
    "expiry", "expires", "ttl", "env", "var", "header", "usage", "ref", "rotation", "version", "pattern", "regex",
    "label", "required", "min", "max", "manager", "store", "provider", "reset", "changed", "hash", "hashed",
    "algorithm", "strength", "validator", "input", "field", "placeholder", "mode", "index", "limit", "budget",
    "counts", "estimate", "estimator", "window", "class", "kind", "location", "source", "endpoint", "uri",
    "change", "confirm", "confirmation", "heading", "title", "help", "text", "message", "description", "desc",
    "prompt", "tooltip", "button", "link", "page", "form", "dialog", "modal", "screen", "view", "icon",
})

_SPLIT = re.compile(r"[A-Z]?[a-zñ0-9]+|[A-Z0-9]+(?![a-z])")

PLACEHOLDER = re.compile(
    r"(?:|None|none|null|NULL|nil|True|true|False|false|str|bool|int|lambda|[xX]{3,7}|\*+|"
    r"\.\.\.|…|<[^>]*>|\{\{.*\}\}|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\$\(.*|%\(?\w*\)?s|os\.environ.*|process\.env.*|"
    r"(?:os\.)?getenv\(.*|env\(.*|(?:self|settings|config|cfg|args|options|opts|request|params|kwargs|ctx|"
    r"secrets|vault|keyring)\.[\w.\[\]'\"()]*)[,;)}\]`]*"
)
_MASKS = ("<masked>", "<redacted>", "<email>", "<password-hash>")


def words(name: str) -> list[str]:
    return [w.lower() for w in _SPLIT.findall(name)]


@lru_cache(maxsize=4096)
def classify(name: str) -> str | None:
    """``"strong"``, ``"weak"`` or ``None`` for a name that does not mark a secret."""
    parts = words(name)
    if parts[-1:] == ["accessid"] or parts[-2:] == ["access", "id"]:
        return "weak"  # an access key's id (AWS, Sumo Logic): scanners treat it as part of the credential
    if not parts or parts[-1] in NOT_SECRET_LAST:
        return None
    joined = "".join(parts)
    if any(p in STRONG_WORDS for p in parts) or joined in STRONG_WORDS:
        return "strong"
    if parts[-1] in SECRET_LAST:
        if len(parts) == 1:
            return "weak"
        if parts[-2] in BENIGN_BEFORE:
            return None
        return "strong"
    return None


def is_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.fullmatch(value)) or value.startswith(_MASKS)


def entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_DOTTED = re.compile(r"[a-z][a-z0-9]*(?:[._\-][a-z][a-z0-9]*)+")
_VERSION = re.compile(r"v?\d+(?:[.\-]\d+)+[\w.\-]*")


def token_like(value: str) -> bool:
    """A value that looks like a token or a password: 8+ characters with letters and digits, not a path,
    version, dotted identifier or URL."""
    v = value.strip("'\"`,;")
    if len(v) < 8 or is_placeholder(v) or "://" in v or _DOTTED.fullmatch(v) or _VERSION.fullmatch(v):
        return False
    if "/" in v and re.search(r"[a-z]{3,}/", v) and not re.search(r"[+=]", v):
        return False
    return any(c.isdigit() for c in v) and any(c.isalpha() for c in v)


_ONE_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.~]{20,400}")
_ID_PART = re.compile(r"[A-Za-z][a-z]*|[a-z]+|\d")


def random_token(value: str) -> bool:
    """A quoted string with no keyword around it that is still very likely a credential: 20+ characters of
    mixed case and digits with high entropy, not hex (checksums, ids), not a path or an identifier."""
    if len(value) < 20 or not _ONE_TOKEN.fullmatch(value) or re.fullmatch(r"[0-9a-fA-F\-]+", value):
        return False
    if "/" in value and not re.search(r"[+=]", value):
        return False
    digits = sum(c.isdigit() for c in value)
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    if digits < 2 or not (mixed or len(value) >= 32 and any(c.isalpha() for c in value)):
        return False
    parts = re.split(r"[_\-.]", value)
    if len(parts) >= 3 and sum(bool(_ID_PART.fullmatch(p)) for p in parts) * 3 >= len(parts) * 2:
        return False
    return entropy(value) >= 3.5
