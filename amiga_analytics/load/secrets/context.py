"""Secrets recognised by where they stand: assignments, flags, headers, URLs, key files, quoted tokens.

Each rule is ``(triggers, pattern, check)``. The pattern's group ``v`` is the secret (only it is replaced);
group ``n``, when present, is the name that introduces it; ``check(value, name)`` says whether to mask. A rule
runs only when one of its triggers occurs in the text (lower-cased; the empty trigger: when the text holds a
run of 20 or more token characters).
"""

from __future__ import annotations

import re
from typing import Callable

from .names import classify, entropy, is_placeholder, random_token, token_like

Check = Callable[[str, str], bool]

# A value: quoted (the whole quoted text, whatever it holds) or a run up to white space or a quote.
_VALUE = r"(?:(?P<q>[\"'`])(?P<v>[^\n]*?)(?P=q)|(?P<v2>[^\s'\"`\\]+))"
# A name holding a word that may mark a secret (classify() decides).
_NAME = r"(?i:(?:[A-Za-z_][\w.\-]{0,40}?)?(?:key|token|secret|pass|pwd|credential|auth|sig|pat|contraseña|dsn|access[_\-]?id)[\w.\-]{0,30}?)"
_SECRET_WORDS = ("key", "token", "secret", "pass", "pwd", "credential", "auth", "sig", "_pat=", "_pat:", "_pat\"", "_pat'", "pat_", "contraseña", "dsn", "accessid", "access_id")


def _by_name(value: str, name: str) -> bool:
    kind = classify(name)
    if kind is None or is_placeholder(value):
        return False
    return kind == "strong" or token_like(value)


def _flag(value: str, name: str) -> bool:
    """A flag's value: any value of a strong name; of a weak one (--key, --token, --auth) any but a
    placeholder, a short value (sort --key 2) or a file."""
    kind = classify(name)
    if kind is None or is_placeholder(value):
        return False
    return kind == "strong" or (len(value) > 4 and not value.startswith(("/", "./", "~/")) and not _FILE.search(value))


def _block(value: str, name: str) -> bool:
    return bool(value.strip())


def _any(value: str, name: str) -> bool:
    return bool(value) and not is_placeholder(value)


def _token(value: str, name: str) -> bool:
    return token_like(value)


def _quoted_token(value: str, name: str) -> bool:
    return random_token(value)


def _prose(value: str, name: str) -> bool:
    if "://" in value:
        return False  # "could not read Password for 'https://…'": the URL rule masks its password
    low = name.lower()
    if low.startswith(("pass", "pwd", "contraseña")) and len(value) >= 6 and not is_placeholder(value):
        return bool(re.search(r"[\d\W_]", value)) or " " in value.strip()
    return token_like(value)


RULES: list[tuple[tuple[str, ...], re.Pattern[str], Check]] = [
    # Private key blocks (PEM, OpenSSH, PGP), also when the bot's cut dropped the END line.
    (("private key",),
     re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<v>.+?)"
                r"(?=-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S), _block),
    (("$2",), re.compile(r"(?P<v>\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53})"), _any),
    # user:password@ in URLs; the password may hold "/" (Mongo), the user may be empty (redis://:pw@host).
    (("://",), re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:(?P<v>[^\s@'\"]+)@"), _block),
    # Headers: Authorization: <scheme> X, X-API-Key: X, PRIVATE-TOKEN: X, …
    (("authorization",),
     re.compile(r"(?i)(?<![\w\-])(?P<n>(?:proxy-)?authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?`?"
                r"(?:[A-Za-z][\w\-]{1,20}[ \t]+)?+(?P<v>[^\s'\"\\,;`]+)"), _any),
    (("api-key", "apikey", "-token", "x-", "api_key"),
     re.compile(r"(?i)(?<![\w\-])(?P<n>x-api-key|api-key|apikey|x-auth-token|x-access-token|"
                r"private-token|job-token|x-vault-token|x-jfrog-art-api|x-goog-api-key|ocp-apim-subscription-key|"
                r"x-[\w\-]*(?:key|token|secret|auth))\\?[\"']?\s*:\s*\\?[\"']?`?(?P<v>[^\s'\"\\,;`]+)"), _any),
    (("bearer", "basic", "token"),
     re.compile(r"(?i)(?<![\w\-])(?P<n>bearer|basic|token)\s+(?P<v>[A-Za-z0-9._~+/=\-]{8,})"),
     lambda v, n: n.lower() != "token" or token_like(v)),
    # Flags: --password X, --client-secret=X, --secret-key X, --account-key X, --passphrase "a b c", …
    (_SECRET_WORDS,
     re.compile(r"(?<![\w\-])--?(?P<n>" + _NAME + r")(?:=|[ \t]+)" + _VALUE), _flag),
    # --user user:password (curl, wget, httpie; the user part is often a key too), curl -u user:password
    (("--user",),
     re.compile(r"(?<![\w\-])--user(?:=|[ \t]+)(?P<v>[\"']?[^\s:'\"]+[\"']?:[\"']?[^\s'\"]+[\"']?)"), _block),
    (("-u",),
     re.compile(r"\b(?:curl|wget|http|https)\b[^|;&\n]*?\s-u[ \t]*(?P<v>[\"']?[^\s:'\"]+[\"']?:[\"']?[^\s'\"]+[\"']?)"),
     _block),
    # A secret-naming string followed by a value: getenv("API_TOKEN", "X"), config.get('password', 'X')
    (_SECRET_WORDS,
     re.compile(r"\(\s*[\"'](?P<n>" + _NAME + r")[\"']\s*,\s*[\"'](?P<v>[^\"'\n]+)[\"']"), _by_name),
    # Programs whose -p (or -a) is a password: az login, twine, docker login, sshpass, mysql, redis-cli -a, …
    (("az ", "twine", "login", "sshpass", "mysql", "mariadb", "redis-cli", "htpasswd"),
     re.compile(r"(?i)\b(?:az\s+login|twine(?:\s+upload)?|(?:docker|podman|buildah|helm\s+registry|oc|cf)\s+login|"
                r"sshpass|mysql(?:dump|admin|sh)?|mariadb|redis-cli|htpasswd\s+-b\S*\s+\S+\s+\S+)\b[^|;&\n]*?"
                r"(?<=\s)(?:-(?P<n>[pa])[ \t]*|--pass(?:word)?[= \t]+)" + _VALUE),
     lambda v, n: not v.rstrip(")];,").isdigit() if n != "a" else True),
    (("poetry",),
     re.compile(r"\bpoetry\s+config\s+(?:pypi-token\.\S+|http-basic\.\S+\s+\S+)\s+" + _VALUE), _any),
    (("secret set",),
     re.compile(r"\bgh\s+secret\s+set\s+\S+\s+(?:--body|-b)[= \t]*" + _VALUE), _any),
    # echo '<secret>' | gh secret set X / docker login --password-stdin / vault kv put …
    (("echo", "printf"),
     re.compile(r"\b(?:echo|printf)\s+(?:-[neE]+\s+)?" + _VALUE +
                r"\s*\|\s*(?=[^|;&\n]*(?:secret|login|password|passwd|token|credential|env\s+add|vault|keyring|"
                r"stdin|base64|kubectl|wrangler|heroku|fly|op\s))"),
     lambda v, n: len(v) >= 6 and not is_placeholder(v)),
    # NuGet and other XML configs: <add key="ClearTextPassword" value="X" />
    (("value=",), re.compile(r"(?i)\bkey=\\?\"(?P<n>[^\"\\]+)\\?\"\s+value=\\?\"(?P<v>[^\"\\]+)"), _by_name),
    # Kubernetes Secret manifests: every base64 value of the data
    (("kind: secret", "kind: \"secret\""),
     re.compile(r"(?<![A-Za-z0-9+/=])(?P<v>[A-Za-z0-9+/]{16,}={0,2})(?![A-Za-z0-9+/=])"),
     lambda v, n: entropy(v) > 3.0 and not v.isalpha()),
    # netrc: machine host login user password X
    (("machine", "netrc"), re.compile(r"(?i)(?<![\w\-])(?P<n>password)[ \t]+" + _VALUE), _any),
    # .pgpass: host:port:database:user:password
    (("pgpass", ":5432:", ":*:", ":3306:"),
     re.compile(r"(?m)(?<![\w.\-])[A-Za-z0-9.\-*]+:(?:\d{2,5}|\*):[\w*\-]+:[\w*.\-@]+:(?P<v>[^\s'\"]+)"), _any),
    # NAME=value, NAME: value, "name": "value", NAME := value (env, config, code, YAML, JSON)
    (_SECRET_WORDS,
     re.compile(r"(?<![\w\-$])(?P<n>" + _NAME + r")(?P<qn>\\?[\"'])?\s{0,3}(?::=|=>|==|=|:)[ \t]{0,3}"
                r"(?:\\?[\"'](?P<v3>[^\"'\\\n]*)\\?[\"']|" + _VALUE + r")"), _by_name),
    # Prose: "use the key X", "bad key X", "the password is 'X'", "token: X"
    (_SECRET_WORDS,
     re.compile(r"(?i)(?<![\w\-])(?P<n>api[ _\-]?keys?|keys?|tokens?|secrets?|passwords?|passphrases?|pwd|"
                r"credentials?|contraseña)(?:\s+(?:is|was|are|of|for|to|=|:|->|=>))?[ \t:=]+" + _VALUE), _prose),
    # A quoted string that is one high-entropy token (a client constructor's first argument, a config value).
    (("",), re.compile(r"(?P<q>[\"'`])(?P<v>[A-Za-z0-9+/=_\-.~]{20,400})(?P=q)"), _quoted_token),
    # E-mail addresses; not git@host:org/repo, logo@2x.png, pkg@1.2.3
    (("@",),
     re.compile(r"(?<![A-Za-z0-9._%+\-])(?P<v>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})"
                r"(?![\w\-]*:[\w/~])"),
     lambda v, n: v.rsplit(".", 1)[1].lower() not in _FILE_EXTENSIONS),
]

_FILE_EXTENSIONS: frozenset[str] = frozenset(
    "png jpg jpeg gif svg webp ico bmp pdf js mjs cjs ts tsx jsx css scss less py rb go rs java kt json yaml yml "
    "toml md txt html htm xml lock sh zip gz tgz tar whl so dll exe wasm map vue php ini cfg conf log csv".split()
)

_FILE = re.compile(r"\.(?:" + "|".join(sorted(_FILE_EXTENSIONS)) + r"|pem|key|crt|p12|pfx|jks|txt|env)$", re.I)

REPLACEMENT = {"$2": "<password-hash>", "@": "<email>"}
