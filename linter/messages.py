"""Finding messages stay one glance long.

A finding message says what is wrong and what happens (<= 120 characters typical); the measured
evidence and the long story live in the rule docstring (`epochlint explain`, docs/rules, SARIF
fullDescription/help). Messages quote the user's code between backticks, and quoted code can be
arbitrarily long: `bounded()` collapses whitespace inside quotes and shortens the longest quotes
until the message fits MAX_MESSAGE characters (never cutting the prose itself).
"""
from __future__ import annotations

import re

MAX_MESSAGE = 200
TYPICAL_MESSAGE = 120
_QUOTE = re.compile(r"`([^`]*)`")
_MIN_QUOTE = 12


def _shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(1, width - 3)].rstrip() + "..."


def bounded(message: str, limit: int = MAX_MESSAGE) -> str:
    """`message` with newlines collapsed and its longest backtick quotes shortened to fit `limit`."""
    message = _QUOTE.sub(lambda m: "`" + " ".join(m.group(1).split()) + "`", message)
    message = " ".join(message.split("\n"))
    while len(message) > limit:
        quotes = [(len(m.group(1)), m) for m in _QUOTE.finditer(message)]
        quotes = [(n, m) for n, m in quotes if n > _MIN_QUOTE]
        if not quotes:
            break
        n, m = max(quotes, key=lambda q: q[0])
        width = max(_MIN_QUOTE, n - (len(message) - limit))
        message = message[: m.start(1)] + _shorten(m.group(1), width) + message[m.end(1):]
    return message
