"""A format split once writes what ``dateformat`` writes, letter for letter."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import dateformat, translation

from qiro.date_text import date_text, time_text

FORMATS = ["Y년 n월 j일 H:i", "j M Y, H:i", r"\Y\e\s: Y", "N j, Y, P", "D, d M y A e O T", "c", "U"]
MOMENTS = [
    dt.datetime(2026, 3, 9, 2, 5, 7, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=9))),
    dt.datetime(2026, 7, 1, 12, 0),
]


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("format_string", FORMATS)
def test_dates_and_times_read_as_dateformat_writes_them(language, format_string):
    with translation.override(language):
        for moment in MOMENTS:
            assert date_text(moment, format_string) == dateformat.format(moment, format_string)
        assert date_text(dt.date(2026, 1, 2), "Y-m-d D") == dateformat.format(
            dt.date(2026, 1, 2), "Y-m-d D"
        )
        assert time_text(dt.time(9, 4), "H:i A") == dateformat.time_format(dt.time(9, 4), "H:i A")


def test_a_date_with_a_time_letter_is_refused_as_django_refuses_it():
    with pytest.raises(TypeError):
        date_text(dt.date(2026, 1, 2), "Y-m-d H:i")
