"""Changelist rows from columns planned once a page, not worked out again in every cell.

Django's ``items_for_result`` decides, for every cell of every row, what the
column is (a field, an admin method, the link column), which classes it
carries and how its value reads; on a 100-row list that decision is most of
the page's time. ``{% qiro_result_list cl %}`` makes each decision once per
column and then only reads values: the markup is Django's own, cell for cell
(``tests/qiro/test_admin_lists.py`` compares both on every list of ours). Every
value is escaped as Django escapes it; the cells are marked safe only after.

Where a list uses what this does not plan for (editable columns, a popup,
lookups through relations, reverse relations, generic keys), the page takes Django's own path.
"""

from __future__ import annotations

import datetime
import decimal
import html
from collections.abc import Callable
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_hidden_fields,
)
from django.contrib.admin.templatetags.admin_list import result_list as django_result_list
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value, quote
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.core.validators import EMPTY_VALUES
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import formats, numberformat, timezone
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext

from qiro.admin_display import SELECT_LABEL, QiroModelAdmin, action_checkbox_html, escape
from qiro.date_text import date_text, time_text

register = template.Library()

# An object -> the cell's inner HTML, and whether the cell keeps to one line.
Cell = Callable[[Any], tuple[str, bool]]
# What the templates show of an aware datetime (the current zone's time); not in the stubs.
template_localtime: Callable[[Any], Any] = timezone.template_localtime  # type: ignore[attr-defined]
PK_MARK = "QIRO0ROW0PK"  # stands for the object's id in the change address
# Fields whose value reads as its text, or the empty mark (``display_for_field``'s
# last branch); their subclasses, URLField among them, take the general path.
PLAIN_TEXT = (models.CharField, models.EmailField, models.TextField)


def escaped(value: Any) -> str:
    """``conditional_escape``'s text: safe text as it is, everything else escaped."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


class NotPlanned(Exception):
    """A column this module leaves to Django."""


class PageFormats:
    """``formats.localize`` and ``number_format`` with the formats looked up once a page.

    Django looks up the language's formats again for every value; a page's
    language does not change, so they are read once here. The text is Django's
    own: the same ``DateFormat`` methods (``qiro.date_text``), the same
    ``numberformat.format`` with the same arguments.
    """

    def __init__(self) -> None:
        language = get_language()
        self._dates = {
            name: str(formats.get_format(name, language))
            for name in ("DATETIME_FORMAT", "DATE_FORMAT", "TIME_FORMAT")
        }
        self._number = (
            formats.get_format("DECIMAL_SEPARATOR", language),
            formats.get_format("NUMBER_GROUPING", language),
            formats.get_format("THOUSAND_SEPARATOR", language),
        )

    def number(self, value: Any, decimal_pos: int | None = None) -> str:
        separator, grouping, thousands = self._number
        return numberformat.format(
            value, separator, decimal_pos, grouping, thousands, force_grouping=False, use_l10n=True
        )

    def localize(self, value: Any) -> Any:
        """``formats.localize(value)``."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, (decimal.Decimal, float, int)):
            return self.number(value)
        if isinstance(value, datetime.datetime):
            return date_text(value, self._dates["DATETIME_FORMAT"])
        if isinstance(value, datetime.date):
            return date_text(value, self._dates["DATE_FORMAT"])
        if isinstance(value, datetime.time):
            return time_text(value, self._dates["TIME_FORMAT"])
        return value

    def value(self, value: Any, empty: str) -> Any:
        """``display_for_value(value, empty)`` (not a boolean column)."""
        if value in EMPTY_VALUES:
            return empty
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, datetime.datetime):
            return self.localize(template_localtime(value))
        if isinstance(value, (datetime.date, datetime.time)):
            return self.localize(value)
        if isinstance(value, (int, decimal.Decimal, float)):
            return self.number(value)
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)


class Page:
    """What a page's cells share: its formats, and Django's icon of a boolean asked once a value."""

    def __init__(self) -> None:
        self.formats = PageFormats()
        self._icons: dict[Any, str] = {}

    def icon(self, value: Any) -> str:
        if value not in self._icons:
            self._icons[value] = str(display_for_value(value, "", boolean=True))
        return self._icons[value]


def _blank_as_empty(value: Any) -> Any:
    return "" if isinstance(value, str) and not value.strip() else value


def _field_cell(field: models.Field[Any, Any], empty: str, page: Page) -> Cell:
    """A model field's cell, as ``display_for_field`` writes it."""
    nowrap = isinstance(field, (models.DateField, models.TimeField, models.ForeignKey))
    name, attname = field.name, field.attname
    if isinstance(field.remote_field, models.ManyToOneRel):

        def related(obj: Any) -> tuple[str, bool]:
            value = getattr(obj, name)
            return escaped(empty if value is None else value), nowrap

        return related
    if getattr(field, "flatchoices", None):
        try:
            choices = dict(field.flatchoices)
        except TypeError as unhashable:
            raise NotPlanned(name) from unhashable

        def chosen(obj: Any) -> tuple[str, bool]:
            shown = choices.get(_blank_as_empty(getattr(obj, attname)), empty)
            return escaped(shown), nowrap

        return chosen
    if isinstance(field, models.BooleanField):
        return lambda obj: (page.icon(getattr(obj, attname)), nowrap)
    blank = field.empty_values
    if type(field) in PLAIN_TEXT:

        def text(obj: Any) -> tuple[str, bool]:
            value = _blank_as_empty(getattr(obj, attname))
            return (empty if value in blank else escape(value)), nowrap

        return text
    formatted = _formatted(field, page.formats)
    if formatted is not None:

        def localized(obj: Any) -> tuple[str, bool]:
            value = _blank_as_empty(getattr(obj, attname))
            return (empty if value in blank else escape(formatted(value))), nowrap

        return localized

    def shown(obj: Any) -> tuple[str, bool]:
        value = _blank_as_empty(getattr(obj, attname))
        return escaped(display_for_field(value, field, empty)), nowrap

    return shown


def _formatted(field: models.Field[Any, Any], page: PageFormats) -> Callable[[Any], str] | None:
    """How ``display_for_field`` writes a value of a date, time or number field; None: others."""
    if isinstance(field, models.DateTimeField):
        return lambda value: page.localize(template_localtime(value))
    if isinstance(field, (models.DateField, models.TimeField)):
        return page.localize
    if isinstance(field, models.DecimalField):
        places = field.decimal_places
        return lambda value: page.number(value, places)
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return page.number
    return None


def _value_cell(read: Callable[[Any], Any], empty: str, page: Page) -> Cell:
    """A cell of an admin method, a callable or an automatic field: ``display_for_value``."""
    empty = getattr(read, "empty_value_display", empty)
    if getattr(read, "boolean", False):
        return lambda obj: (page.icon(read(obj)), False)
    shown_value = page.formats.value

    def shown(obj: Any) -> tuple[str, bool]:
        value = _blank_as_empty(read(obj))
        nowrap = isinstance(value, (datetime.date, datetime.time))
        return escaped(shown_value(value, empty)), nowrap

    return shown


def _model_attribute_cell(model: type[models.Model], name: str, empty: str, page: Page) -> Cell:
    """A method or a property of the model (``__str__`` among them), read from each object."""
    declared = getattr(model, name, None)
    if declared is None:
        raise NotPlanned(name)  # a lookup through a relation, or nothing at all

    def read(obj: Any) -> Any:
        value = getattr(obj, name)
        return value() if callable(value) else value

    # The column's options, where Django reads them: a property's ``boolean`` from
    # its getter, everything else from the attribute itself.
    if hasattr(declared, "empty_value_display"):
        read.empty_value_display = declared.empty_value_display  # type: ignore[attr-defined]
    flags_of: Any = declared.fget if isinstance(declared, property) else declared
    if hasattr(flags_of, "boolean"):
        read.boolean = flags_of.boolean  # type: ignore[attr-defined]
    return _value_cell(read, empty, page)


def _checkbox_cell(model_admin: Any, empty: str, page: Page) -> Cell:
    """``QiroModelAdmin.action_checkbox`` with its label translated once a page."""
    if type(model_admin).action_checkbox is not QiroModelAdmin.action_checkbox:
        return _value_cell(model_admin.action_checkbox, empty, page)
    label = gettext(SELECT_LABEL)
    return lambda obj: (str(action_checkbox_html(obj, label)), False)


def _column(cl: Any, index: int, name: Any, page: Page) -> tuple[str, Cell]:
    """The CSS class and the cell of one ``list_display`` entry."""
    model_admin, opts = cl.model_admin, cl.opts
    empty = model_admin.get_empty_value_display()
    if callable(name):
        css = f"lambda{index}" if name.__name__ == "<lambda>" else name.__name__
        return f"field-{css}", _value_cell(name, empty, page)
    try:
        field = opts.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is None or not isinstance(field, models.Field):
        if field is not None:
            raise NotPlanned(name)  # a reverse relation or a generic key
        if name == "action_checkbox":
            return "action-checkbox", _checkbox_cell(model_admin, empty, page)
        if name != "__str__" and hasattr(model_admin, name):
            return f"field-{name}", _value_cell(getattr(model_admin, name), empty, page)
        return f"field-{name}", _model_attribute_cell(cl.model, name, empty, page)
    if field.many_to_many or (field.is_relation and field.attname == name != field.name):
        raise NotPlanned(name)
    if field.auto_created:
        return f"field-{name}", _value_cell(lambda obj: getattr(obj, name), empty, page)
    return f"field-{name}", _field_cell(field, empty, page)


def _change_address(cl: Any) -> str | None:
    """The change page's address with ``PK_MARK`` for the id, filters kept; None: no link."""
    opts = cl.opts
    try:
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=(PK_MARK,),
            current_app=cl.model_admin.admin_site.name,
        )
    except NoReverseMatch:
        return None
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": opts}, url)
    if url.count(PK_MARK) != 1:
        raise NotPlanned("change address")
    return escape(url)


def planned_rows(cl: Any) -> list[ResultList] | None:
    """The rows of ``cl``'s page as Django writes them; None where Django must write them."""
    if cl.formset is not None or cl.is_popup or cl.model_admin.list_editable:
        return None
    page = Page()
    try:
        columns = [_column(cl, i, name, page) for i, name in enumerate(cl.list_display)]
        address = _change_address(cl)
    except NotPlanned:
        return None
    links = cl.list_display_links
    linked = [
        links is not None and ((not links and i == 0) or name in links)
        for i, name in enumerate(cl.list_display)
    ]
    empty = escaped(cl.model_admin.get_empty_value_display())
    pk_attname = cl.pk_attname
    rows = []
    for obj in cl.result_list:
        cells: list[str] = []
        first = True
        for (css, cell), link in zip(columns, linked, strict=True):
            try:
                shown, nowrap = cell(obj)
            except ObjectDoesNotExist:
                shown, nowrap = empty, False
            attrs = f' class="{css} nowrap"' if nowrap else f' class="{css}"'
            if link:
                tag = "th" if first else "td"
                first = False
                if address is not None:
                    href = address.replace(PK_MARK, escape(quote(getattr(obj, pk_attname))))
                    shown = f'<a href="{href}">{shown}</a>'
                cells.append(f"<{tag}{attrs}>{shown}</{tag}>")
            else:
                cells.append(f"<td{attrs}>{shown}</td>")
        # One item a row: the template's loop over a row's cells runs once.
        rows.append(ResultList(None, [mark_safe("".join(cells))]))  # noqa: S308
    return rows


@register.inclusion_tag("admin/change_list_results.html")
def qiro_result_list(cl: Any) -> dict[str, Any]:
    """Django's ``{% result_list %}``, with the rows of ``planned_rows`` where it can."""
    rows = planned_rows(cl)
    if rows is None:
        return django_result_list(cl)
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": rows,
    }
