"""``dateformat.format`` with each format string split into its letters once.

Django splits the format string again for every value it formats (a regular
expression, then an unescape of every literal piece). The admin lists and the
session lists format a few hundred values a page with the same two or three
formats; here a format is split once per process, and each value only goes
through the letters, by the same ``DateFormat``/``TimeFormat`` methods, so the
text is Django's own (``tests/qiro/test_date_text.py`` compares them).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.utils import dateformat

Letters = tuple[tuple[bool, str], ...]


@functools.lru_cache(maxsize=256)
def letters(format_string: str) -> Letters:
    """The format as ``Formatter.format`` reads it: (is it a letter, the letter or the text)."""
    pieces = []
    for i, piece in enumerate(dateformat.re_formatchars.split(format_string)):
        if i % 2:
            pieces.append((True, piece))
        elif piece:
            pieces.append((False, dateformat.re_escaped.sub(r"\1", piece)))
    return tuple(pieces)


def _written(shown: dateformat.TimeFormat, format_string: str) -> str:
    pieces = letters(format_string)
    return "".join(str(getattr(shown, p)()) if letter else p for letter, p in pieces)


def date_text(value: Any, format_string: str) -> str:
    """``dateformat.format(value, format_string)``."""
    if type(value) is dt.date and any(
        letter and hasattr(dateformat.TimeFormat, p) for letter, p in letters(format_string)
    ):
        return dateformat.format(value, format_string)  # Django's own refusal
    return _written(dateformat.DateFormat(value), format_string)


def time_text(value: Any, format_string: str) -> str:
    """``dateformat.time_format(value, format_string)``."""
    return _written(dateformat.TimeFormat(value), format_string)
