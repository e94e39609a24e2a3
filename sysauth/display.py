"""Sessions as people read them: "Chrome 131 · Windows", and times in the reader's zone.

Used by the company portal, "my sessions" and the company admin's session
lists, so a device and a time read the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.apps import apps
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from ua_parser import parse

from qiro.date_text import date_text

_UNKNOWN = "Other"


def device_label(user_agent: str) -> str:
    """``Chrome 131 · Windows`` from a user-agent header; a short note when it says nothing."""
    return _parsed_device(user_agent[:400]) or _("Unknown device")


@functools.lru_cache(maxsize=1024)
def _parsed_device(user_agent: str) -> str:
    """Browser, system and device named in the header ("" if none). Cached, untranslated:
    one company's sessions come from a handful of browsers."""
    if not user_agent.strip():
        return ""
    result = parse(user_agent)
    parts = []
    browser = result.user_agent
    if browser and browser.family != _UNKNOWN:
        parts.append(f"{browser.family} {browser.major}" if browser.major else browser.family)
    system = result.os
    if system and system.family != _UNKNOWN:
        parts.append(system.family)
    device = result.device
    if (
        device
        and device.family not in (_UNKNOWN, "Spider", "Mac")
        and not (parts and device.family in parts[-1])
    ):
        parts.append(device.family)
    return " · ".join(parts)


# Per language: the date without and with the year, then the time (24 hours).
_FORMATS = {
    "ko": ("n월 j일", "Y년 n월 j일", "H:i"),
    "en": ("M j", "M j, Y", "H:i"),
}


def readable_time(value: dt.datetime | None, *, now: dt.datetime | None = None) -> str:
    """``12월 1일 18:30 KST`` in the current zone (Asia/Seoul unless activated otherwise).

    The year only when it is not this year's; "today" instead of today's date.
    """
    if value is None:
        return "-"
    local = timezone.localtime(value)
    today = timezone.localtime(now or timezone.now()).date()
    language = (translation.get_language() or "ko").split("-")[0]
    day_format, year_format, time_format = _FORMATS.get(language, _FORMATS["en"])
    if local.date() == today:
        day = _("today")
    elif local.year == today.year:
        day = date_text(local, day_format)
    else:
        day = date_text(local, year_format)
    return f"{day} {date_text(local, time_format)} {local.tzname()}"


def role_label(name: str) -> str:
    """A default role's name in the reader's language (``owner`` → 소유자); others as named."""
    from sysauth.models import UserType

    labels = {value: str(label) for value, label in UserType.choices}
    return labels.get(name, name)


# --- permissions and tables, named as the admin names them --------------------------

_DEFAULT_ACTIONS = ("view", "add", "change", "delete")


def _action_word(action: str) -> str:
    words = {
        "add": pgettext("permission", "add"),
        "change": pgettext("permission", "change"),
        "delete": pgettext("permission", "delete"),
        "view": pgettext("permission", "view"),
    }
    return words[action]


def permission_label(code: str, name: str = "") -> str:
    """``sysauth.view_session`` → "세션 보기" / "Can view session".

    Django stores a permission's name in English when the permission is made;
    the label is built from the model's translated name and the action instead,
    and a custom permission's stored name goes through the catalogue.
    """
    app_label, _dot, codename = code.partition(".")
    action, _underscore, model_name = codename.partition("_")
    if action in _DEFAULT_ACTIONS:
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            model = None
        if model is not None:
            return _("Can %(action)s %(model)s") % {
                "action": _action_word(action),
                "model": model._meta.verbose_name,
            }
    return _(name) if name else code  # a name from Meta.permissions, through the catalogue


def permission_order(code: str) -> tuple[str, str, int, str]:
    """Sort key: by app and model, then view, add, change, delete, then the rest."""
    app_label, _dot, codename = code.partition(".")
    action, _underscore, model_name = codename.partition("_")
    rank = _DEFAULT_ACTIONS.index(action) if action in _DEFAULT_ACTIONS else len(_DEFAULT_ACTIONS)
    return (app_label, model_name, rank, codename)


@functools.cache
def _tables() -> dict[str, type]:
    return {model._meta.db_table: model for model in apps.get_models()}


def table_label(table: str) -> str:
    """``sysauth_userrole`` → "사용자 역할": the model's plural name, else the table's."""
    model = _tables().get(table)
    return str(model._meta.verbose_name_plural) if model is not None else table  # type: ignore[attr-defined]
