"""The credentials a developer keeps pasting into commands."""

from __future__ import annotations

import random

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"




class Secrets:
    """The credentials a developer keeps pasting: mostly the same few, now and then a fresh one."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.current: dict[str, str] = {}

    def _chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def new(self, kind: str) -> str:
        if kind == "openai":
            return "sk-proj-" + self._chars(ALNUM + "_-", 48)
        if kind == "anthropic":
            return "sk-ant-api03-" + self._chars(ALNUM + "_-", 40)
        if kind == "github":
            return "ghp_" + self._chars(ALNUM, 36)
        if kind == "gitlab":
            return "glpat-" + self._chars(ALNUM, 20)
        if kind == "aws_id":
            return "AKIA" + self._chars(UPPER_NUM, 16)
        if kind == "aws_secret":
            return self._chars(ALNUM + "/+", 40)
        if kind == "password":
            return self._chars(ALNUM, 10) + self.rng.choice("!#%*-_") + self._chars("0123456789", 3)
        raise ValueError(kind)

    def get(self, kind: str) -> str:
        if kind not in self.current or self.rng.random() < 0.25:
            self.current[kind] = self.new(kind)
        return self.current[kind]


