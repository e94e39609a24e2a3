"""``{{ session.user_agent|device }}`` and ``{{ session.last_seen_at|readable_time }}``."""

from __future__ import annotations

import datetime as dt

from django import template

from sysauth import display

register = template.Library()


@register.filter
def device(user_agent: str | None) -> str:
    return display.device_label(user_agent or "")


@register.filter
def readable_time(value: dt.datetime | None) -> str:
    return display.readable_time(value)
