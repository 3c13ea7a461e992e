"""The secret salt of ``user_ref``: where it is kept, and the references it makes.

The salt never goes into the analytics database (which may be published), so a ``user_ref`` cannot be turned
back into the bot's user id; it stays the same from one sync to the next.
"""

from __future__ import annotations

import hashlib
import os
import secrets as _random
from pathlib import Path

from ..errors import InputError


def config_dir() -> Path:
    """``$AMIGA_ANALYTICS_CONFIG``, else ``$XDG_CONFIG_HOME/amiga-analytics``, else ``~/.config/amiga-analytics``."""
    named = os.environ.get("AMIGA_ANALYTICS_CONFIG")
    if named:
        return Path(named)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "amiga-analytics"


def user_ref_salt() -> str:
    """The secret that makes ``user_ref`` non-reversible. It never goes into the analytics database (which may
    be published): ``$AMIGA_ANALYTICS_SALT``, else a random salt kept in ``config_dir()/user-ref.salt``
    (created on first use, readable by its owner only), so references stay stable across syncs."""
    named = os.environ.get("AMIGA_ANALYTICS_SALT")
    if named:
        return named
    path = config_dir() / "user-ref.salt"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(_random.token_hex(16))
        return path.read_text().strip()
    except FileExistsError:
        return path.read_text().strip()
    except OSError as exc:
        raise InputError(f"cannot keep the user-reference salt in {path} ({exc.strerror}): set AMIGA_ANALYTICS_SALT "
                         f"or AMIGA_ANALYTICS_CONFIG to a writable directory") from None


def user_ref(salt: str, user_id: object) -> str | None:
    """The published stand-in for a bot user id: ``u_`` and 12 hex digits of a salted SHA-256.

    >>> user_ref("salt", 42)
    'u_4ea320b0329f'
    >>> user_ref("salt", None) is None
    True
    """
    if user_id is None:
        return None
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).hexdigest()
    return "u_" + digest[:12]
