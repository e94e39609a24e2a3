"""Admin columns that read the way people read: sizes and durations in words.

One rule for every list of ours: a model field named ``*_bytes`` is shown as a
size ("2.3 MB") and one named ``*_seconds`` as a duration ("3분 12초"), sorted
by the stored number, under the field's name without its unit. Fields that
keep stored text (``qiro.stored_text``), named in ``stored_text_fields``, are
read in the reader's language, in the list and on the record's page.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from qiro import stored_text

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


@functools.cache
def stored_text_column(model: type[models.Model], name: str) -> Callable[[Any], SafeString | str]:
    """A field of stored text, read in the active language: one line per message."""
    field = model._meta.get_field(name)

    @admin.display(description=lazy(_label, str)(field), ordering=name)
    def column(obj: Any) -> SafeString | str:
        lines = stored_text.read_each(getattr(obj, name) or "")
        if not lines:
            return EMPTY
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    column.__name__ = name
    return column


class ReadableColumnsMixin:
    """For a ModelAdmin: sizes and durations in its list read as words, stored text read.

    A field named in ``stored_text_fields`` is shown, in the list and on the
    record's page (as ``<name>_text``, read-only), in the reader's language.
    """

    model: type[models.Model]
    stored_text_fields: tuple[str, ...] = ()

    def get_list_display(self, request: HttpRequest) -> Any:
        names = super().get_list_display(request)  # type: ignore[misc]
        return [
            (
                stored_text_column(self.model, n)
                if n in self.stored_text_fields
                else readable_column(self.model, n)
            )
            if isinstance(n, str)
            else n
            for n in names
        ]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = super().get_exclude(request, obj)  # type: ignore[misc]
        if not self.stored_text_fields:
            return excluded
        return [*(excluded or ()), *self.stored_text_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        names = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return [*names, *(f"{n}_text" for n in self.stored_text_fields)]

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_text") and name[: -len("_text")] in type(self).stored_text_fields:
            return stored_text_column(self.model, name[: -len("_text")])
        raise AttributeError(name)
