"""Bot names for several bots in one store: what a name may hold (it becomes a column value, a file name and a
partition name), and that a bad one is a one-line InputError."""

from __future__ import annotations

from pathlib import Path

import pytest

from amiga_analytics.errors import InputError
from amiga_analytics.load.bots import DEFAULT_BOT, check_bot_name, shadow_path


@pytest.mark.parametrize("name", ["main", "amiga", "bot-2", "eu_west", "7", "a" * 32])
def test_good_names(name):
    assert check_bot_name(name) == name


@pytest.mark.parametrize("name", ["", " ", "Main", "-x", "_x", "a b", "a/b", "..", "a.b", "é", "a\nb", "a" * 33,
                                  "x;drop"])
def test_bad_names_are_one_line_input_errors(name):
    with pytest.raises(InputError) as info:
        check_bot_name(name)
    message = str(info.value)
    assert "\n" not in message and message.startswith("bad bot name")


def test_default_bot_is_a_valid_name():
    assert check_bot_name(DEFAULT_BOT) == "main"


def test_shadow_store_sits_beside_the_shared_store(tmp_path):
    target = tmp_path / "analytics.db"
    assert shadow_path(target, "bot-2") == tmp_path / "analytics.db.bots" / "bot-2.db"
    with pytest.raises(InputError):
        shadow_path(Path("analytics.db"), "../x")
    assert not (tmp_path / "analytics.db.bots").exists()
