"""Template filters for values people read: ``{{ seconds|duration }}``, ``{{ bytes|size }}``."""

from __future__ import annotations

from django import template

from qiro.admin_display import duration_text, size_text

register = template.Library()
register.filter("duration", duration_text)
register.filter("size", size_text)
