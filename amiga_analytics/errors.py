"""Exceptions that reach users as one-line messages.

Library code raises :class:`InputError` (a ``ValueError``) for anything the user can fix: a path that is not a
SQLite file, a database without the bot's tables, an unknown query name, a bad date. The CLI turns it into a
single line on stderr and exit status 2; with ``--debug`` the traceback is shown as well.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input the user can fix. The message says what is wrong and what to do."""


class NotABotDatabase(InputError):
    """The file is not a database written by the AMIGA bot."""


class NotAnAnalyticsDatabase(InputError):
    """The file is not an analytics database written by ``amiga-analytics sync``."""


class NoDataError(InputError):
    """The requested period holds no data, so there is nothing honest to report."""
