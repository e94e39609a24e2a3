"""Keyset pagination: a page continues after the last row of the previous one.

The cursor is opaque to clients (URL-safe base64 of a small JSON list) and
checked when read; an OFFSET is never used, so a deep page costs what the
first one does (an index range scan from the cursor on).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.utils.translation import gettext_lazy as _
from ninja import Schema

from api.problems import ApiProblem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Row = TypeVar("Row")


class PageQuery(Schema):
    """The query of a listed page: the previous page's ``next_cursor``, and its size."""

    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def encode_cursor(*values: Any) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _bad_cursor() -> ApiProblem:
    return ApiProblem("invalid-cursor", _("Use the next_cursor of the previous page unchanged."))


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """The values of ``cursor``, each converted to its kind (str, int, datetime)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise _bad_cursor() from error
    if not isinstance(raw, list) or len(raw) != len(kinds):
        raise _bad_cursor()
    values: list[Any] = []
    for value, kind in zip(raw, kinds, strict=True):
        try:
            if kind is dt.datetime:
                parsed = dt.datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError("naive")
                values.append(parsed)
            elif kind is int and isinstance(value, int) and not isinstance(value, bool):
                if not 0 < value < 2**63:
                    raise ValueError("out of range")
                values.append(value)
            elif kind is str and isinstance(value, str) and "\x00" not in value:
                values.append(value)
            else:
                raise ValueError("kind")
        except (TypeError, ValueError) as error:
            raise _bad_cursor() from error
    return values


def page_limit(requested: int) -> int:
    """The rows a page holds: what the client asked for, between 1 and ``MAX_LIMIT``."""
    return max(1, min(requested, MAX_LIMIT))


def keyset_page(
    rows: Iterable[Row],
    *,
    limit: int,
    item: Callable[[Row], Any],
    cursor: Callable[[Row], tuple[Any, ...]],
) -> dict[str, Any]:
    """A page of ``rows``, fetched one past ``limit`` to tell whether more follow.

    ``item`` says how a row is shown; ``cursor`` gives the values of the last
    row that the next page continues after (no cursor on the last page).
    """
    found = list(rows)
    more = len(found) > limit
    found = found[:limit]
    return {
        "items": [item(row) for row in found],
        "next_cursor": encode_cursor(*cursor(found[-1])) if more else None,
    }
