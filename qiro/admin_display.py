"""Admin columns that read the way people read: sizes and durations in words.

One rule for every list of ours: a model field named ``*_bytes`` is shown as a
size ("2.3 MB") and one named ``*_seconds`` as a duration ("3분 12초"), sorted
by the stored number, under the field's name without its unit.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

UNIT_SUFFIX = re.compile(r"\s*\([^()]*\)\s*$")
EMPTY = "—"


def duration_text(seconds: float | None) -> str:
    """``seconds`` as a person says it: 0.4초, 12초, 3분 12초, 1시간 5분."""
    if seconds is None:
        return EMPTY
    if seconds < 60:
        shown = f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"
        return gettext("%(seconds)s s") % {"seconds": shown}
    whole = round(seconds)
    if whole < 3600:
        return gettext("%(minutes)d min %(seconds)d s") % {
            "minutes": whole // 60,
            "seconds": whole % 60,
        }
    return gettext("%(hours)d h %(minutes)d min") % {
        "hours": whole // 3600,
        "minutes": whole % 3600 // 60,
    }


def local_stamp(moment: datetime.datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """``moment`` in the site's zone (Asia/Seoul), for names that carry a time."""
    return "" if moment is None else timezone.localtime(moment).strftime(pattern)


def size_text(size: int | None) -> str:
    return EMPTY if size is None else str(filesizeformat(size))


def _label(field: Any) -> str:
    return UNIT_SUFFIX.sub("", str(field.verbose_name))


@functools.cache
def readable_column(model: type[models.Model], name: str) -> Callable[[Any], str] | str:
    """The column for ``name``: a formatting callable for sizes and durations, else ``name``."""
    if name.endswith("_bytes"):
        shown: Callable[[Any], str] = size_text
    elif name.endswith("_seconds"):
        shown = duration_text
    else:
        return name
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name

    @admin.display(description=lazy(_label, str)(field), ordering=name)
    def column(obj: Any) -> str:
        return shown(getattr(obj, name))

    column.__name__ = name  # the changelist's CSS class stays "field-<name>"
    return column


class QiroModelAdmin(admin.ModelAdmin):
    """The base of every admin of ours: Django's, with its list rows written cheaply."""

    def action_checkbox(self, obj: Any) -> SafeString:
        """Django's checkbox, written out: its widget rendered three templates a row."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


class ReadableColumnsMixin:
    """For a ModelAdmin: sizes and durations in its list read as words."""

    model: type[models.Model]

    def get_list_display(self, request: HttpRequest) -> Any:
        names = super().get_list_display(request)  # type: ignore[misc]
        return [readable_column(self.model, n) if isinstance(n, str) else n for n in names]
