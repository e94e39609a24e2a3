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
import html
import json
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
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from qiro import stored_text

STORED, READABLE = "_text", "_in_words"  # names of the read-only fields shown in their place
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


def json_text(value: Any) -> SafeString | str:
    """A JSON value as people read it: a list joined, a mapping one "key: value" a line."""
    if value in (None, [], {}):
        return EMPTY
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict) and all(not isinstance(v, (list, dict)) for v in value.values()):
        rows = ((k, _moment_text(v)) for k, v in sorted(value.items()))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)
    return json.dumps(value, ensure_ascii=False)


def _moment_text(value: Any) -> Any:
    """A value written as an ISO date and time reads as one, in the site's zone."""
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            return local_stamp(moment, "%Y-%m-%d %H:%M:%S")
    return value


def readable_shown(model: type[models.Model], name: str) -> Callable[[Any], Any] | None:
    """How a field reads: sizes, durations and JSON in words; None when it reads as it is."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if name.endswith("_bytes"):
        return size_text
    if name.endswith("_seconds"):
        return duration_text
    if isinstance(field, models.JSONField):
        return json_text
    return None


@functools.cache
def readable_column(model: type[models.Model], name: str) -> Callable[[Any], Any] | str:
    """The column for ``name``: a formatting callable for sizes and durations, else ``name``."""
    shown = readable_shown(model, name)
    if shown is None or not name.endswith(("_bytes", "_seconds")):
        return name
    return _column(model, name, shown)


@functools.cache
def readable_field(model: type[models.Model], name: str) -> Callable[[Any], Any] | None:
    """A read-only field of a record's page, in words (sizes, durations, JSON)."""
    shown = readable_shown(model, name)
    return None if shown is None else _column(model, name, shown)


def _column(model: type[models.Model], name: str, shown: Callable[[Any], Any]) -> Any:
    field = model._meta.get_field(name)

    @admin.display(description=lazy(_label, str)(field), ordering=name)
    def column(obj: Any) -> Any:
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


def escape(value: Any) -> str:
    """``django.utils.html.escape``'s text, without its check for lazy arguments on every call."""
    return html.escape(str(value))


# Django's label of the row checkbox, ``{}`` standing for the object.
SELECT_LABEL = "Select this object for an action - {}"


def action_checkbox_html(obj: Any, label: str) -> SafeString:
    """Django's row checkbox for ``obj``; ``label``: ``SELECT_LABEL`` translated.

    As Django's ``format_html``: the translated label is taken as written, the
    object's name and id are escaped.
    """
    return mark_safe(  # noqa: S308 - the values are escaped here
        f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" value="{escape(obj.pk)}"'
        f' class="action-select" aria-label="{label.format(escape(obj))}">'
    )


class QiroModelAdmin(admin.ModelAdmin):
    """The base of every admin of ours: Django's, with its list rows written cheaply."""

    def action_checkbox(self, obj: Any) -> SafeString:
        """Django's checkbox, written out: its widget rendered three templates a row."""
        return action_checkbox_html(obj, gettext(SELECT_LABEL))


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

    def _in_words(self, request: HttpRequest, obj: Any) -> dict[str, str]:
        """On a page that only shows the record: each field that reads in words, renamed."""
        if self.has_change_permission(request, obj):
            return {}
        left_out = {*self.stored_text_fields, *(getattr(self, "exclude", None) or ())}
        return {
            f.name: f"{f.name}{READABLE}"
            for f in self.model._meta.concrete_fields
            if f.name not in left_out and readable_shown(self.model, f.name)
        }

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        names = super().get_fields(request, obj)  # type: ignore[misc]
        renamed = self._in_words(request, obj)
        shown = list(dict.fromkeys(renamed.get(n, n) for n in names))
        # Each field read in words stands where the field stands in the model.
        original = {v: k for k, v in renamed.items()}
        original.update({f"{n}{STORED}": n for n in self.stored_text_fields})
        order = {f.name: i for i, f in enumerate(self.model._meta.concrete_fields)}
        return sorted(shown, key=lambda n: order.get(str(original.get(n, n)), len(order)))

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = super().get_exclude(request, obj)  # type: ignore[misc]
        hidden = [*self.stored_text_fields, *self._in_words(request, obj)]
        return [*(excluded or ()), *hidden] if hidden else excluded

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        names = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return [
            *names,
            *(f"{n}{STORED}" for n in self.stored_text_fields),
            *self._in_words(request, obj).values(),
        ]

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model")  # set by ModelAdmin.__init__
        if model is None:
            raise AttributeError(name)
        if name.endswith(STORED) and name[: -len(STORED)] in type(self).stored_text_fields:
            return stored_text_column(model, name[: -len(STORED)])
        if name.endswith(READABLE):
            column = readable_field(model, name[: -len(READABLE)])
            if column is not None:
                return column
        raise AttributeError(name)
