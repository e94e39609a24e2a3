"""Sentences kept in the database in no one language: a message and its parameters, read later.

A line of an operation's log or a verification finding is written while a
job runs, for people who read it later in their own language. So what is
stored is the message as the catalogue knows it (its English id) with its
parameters, as JSON: ``{"msg": "pg_dump wrote %(file)s", "params": {...}}``,
or a list of such messages, read joined by "; ". A parameter may itself be a
message, a list (read joined by ", ") or a size (``size()``). ``read()`` gives the text in the
active language; text stored before, as plain English, is read as it is.

A log is one such message per line, with the moment it was written (``at``),
read with the time of day in the reader's zone (``read_log``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

Message = dict[str, Any]
E = TypeVar("E", bound=BaseException)


def said(msgid: str, **params: Any) -> Message:
    """A message to store: ``msgid`` is marked with ``gettext_noop`` where it is written."""
    return {"msg": msgid, "params": params} if params else {"msg": msgid}


def size(size_bytes: int | None) -> dict[str, int | None]:
    """A parameter read as a size ("2.3 MB"), in the reader's units."""
    return {"bytes": size_bytes}


def label(lazy_text: Any, *, lower: bool = False) -> Message:
    """A lazy label (a choice's, a verbose name) as a message: its id, read later.

    ``lower``: read in lower case, as inside a sentence ("during backup").
    """
    with translation.override(None):
        message = said(str(lazy_text))
    return {**message, "lower": True} if lower else message


def stored(value: Message | Iterable[Message | str]) -> str:
    """The stored form of one message, or of several (an empty list stores as "").

    Among several, a plain string (an error the server wrote) is kept as it is.
    """
    if not isinstance(value, dict):
        value = list(value)
        if not any(_is_message(v) for v in value):  # only a server's own words: plain text
            return "; ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def stamped(message: Message, at: datetime.datetime | None = None) -> str:
    """One log line: the message and the moment it was said, without a line end."""
    return json.dumps(
        {"at": (at or timezone.now()).isoformat(), **message}, ensure_ascii=False, default=str
    )


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("msg"), str) and bool(value["msg"])


def parsed(text: str) -> Message | list[Message | str] | None:
    """The message(s) ``text`` stores, or None when it is plain text."""
    if not text or text[0] not in "{[":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if _is_message(value):
        return value
    if (
        isinstance(value, list)
        and any(_is_message(v) for v in value)
        and all(_is_message(v) or isinstance(v, str) for v in value)
    ):
        return value
    return None


def _param(value: Any) -> Any:
    if _is_message(value):
        return render(value)
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return "—" if value["bytes"] is None else str(filesizeformat(value["bytes"]))
    if isinstance(value, list):
        return ", ".join(str(_param(v)) for v in value)
    return value


def render(value: Message | list[Message | str] | str) -> str:
    """A message (or a list of them) in the active language."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(render(v) for v in value)
    msgid = value["msg"]
    if value.get("lower"):
        return render({k: v for k, v in value.items() if k != "lower"}).lower()
    params = {k: _param(v) for k, v in (value.get("params") or {}).items()}
    if not params:
        return gettext(msgid)
    try:
        return gettext(msgid) % params
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder
        try:
            return msgid % params
        except (KeyError, ValueError, TypeError):
            return f"{msgid} {params}"


def read(text: str, joiner: str = "; ") -> str:
    """Stored text in the active language: messages translated, plain text as it is."""
    value = parsed(text)
    if value is None:
        return text
    return joiner.join(render(v) for v in value) if isinstance(value, list) else render(value)


def said_by(error: BaseException) -> list[Message | str]:
    """What an error says, as stored text's parts: its ``message`` if it carries one."""
    message: Any = getattr(error, "message", None)
    if _is_message(message):
        return [message]
    if isinstance(message, list) and all(_is_message(v) or isinstance(v, str) for v in message):
        return list(message)
    return [str(error)]


def said_by_text(text: str) -> Message | str:
    """The first thing stored text says (a failed operation's error without its traceback)."""
    value = parsed(text)
    if isinstance(value, list):
        return value[0]
    if value is not None:
        return value
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def carrying(error: E, text: str) -> E:
    """``error`` with the stored ``text`` as its ``message`` (read later, in any language)."""
    value = parsed(text)
    error.message = value if value is not None else text  # type: ignore[attr-defined]
    return error


def read_each(text: str) -> list[str]:
    """Stored text as lines: each message of a list on its own, plain text split at line ends."""
    value = parsed(text)
    if value is None:
        return text.splitlines()
    return [render(v) for v in value] if isinstance(value, list) else [render(value)]


def read_line(line: str) -> str:
    """One log line: "HH:MM:SS text", the time in the reader's zone."""
    value = parsed(line)
    if not isinstance(value, dict):
        return line
    moment = parse_datetime(str(value.get("at", "")))
    stamp = timezone.localtime(moment).strftime("%H:%M:%S ") if moment else ""
    return stamp + render(value)


def read_log(text: str) -> str:
    """A whole log, one line each: lines written before as plain text stay as they are."""
    return "".join(read_line(line) + "\n" for line in text.splitlines())
