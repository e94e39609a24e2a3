"""The admin's list of apps and models, written in one pass instead of a template loop.

``admin/app_list.html`` (the index, each app's page) renders every model row
through a dozen template nodes; the company admin lists seven models, and that
loop was half the index page's time. ``{% app_list_tables %}`` writes the same
markup (Django's classes, ids and hidden headings, so its styles and tests
apply) from Python, with every value escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from django import template
from django.utils.html import conditional_escape as esc
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()


def _current(url: str | None, path: str) -> bool:
    """As the template's ``url in request.path|urlencode``."""
    return bool(url) and str(url) in quote(path, safe="/")


def _model_row(app_label: str, model: Mapping[str, Any], path: str, links: bool) -> str:
    name = str(model["object_name"]).lower()
    label = esc(f"{app_label}-{name}")
    admin_url, add_url = model.get("admin_url"), model.get("add_url")
    current = _current(admin_url, path)
    aria = ' aria-current="page"' if current else ""
    heading = (
        f'<a href="{esc(admin_url)}"{aria}>{esc(model["name"])}</a>'
        if admin_url
        else esc(model["name"])
    )
    cells = [
        f'<tr class="model-{esc(name)}{" current-model" if current else ""}">',
        f'<th scope="row" id="{label}">{heading}</th>',
        f'<td><a href="{esc(add_url)}" class="addlink" aria-describedby="{label}">'
        f"{esc(gettext('Add'))}</a></td>"
        if add_url
        else "<td></td>",
    ]
    if admin_url and links:
        kind, text = ("viewlink", gettext("View")) if model.get("view_only") else (
            "changelink", gettext("Change"))  # fmt: skip
        cells.append(
            f'<td><a href="{esc(admin_url)}" class="{kind}" aria-describedby="{label}">'
            f"{esc(text)}</a></td>"
        )
    elif links:
        cells.append("<td></td>")
    cells.append("</tr>")
    return "".join(cells)


@register.simple_tag(takes_context=True)
def app_list_tables(
    context: Mapping[str, Any], app_list: Iterable[Mapping[str, Any]], show_changelinks: bool
) -> SafeString:
    request = context.get("request")
    path = request.path if request is not None else ""
    apps = list(app_list or ())
    if not apps:
        # Django's own message, with its typographic apostrophe.
        message = gettext("You don’t have permission to view or edit anything.")  # noqa: RUF001
        return mark_safe(f"<p>{esc(message)}</p>")  # noqa: S308 - escaped above
    hidden_heads = (
        '<thead class="visually-hidden"><tr>'
        f'<th scope="col">{esc(gettext("Model name"))}</th>'
        f'<th scope="col">{esc(gettext("Add link"))}</th>'
        f'<th scope="col">{esc(gettext("Change or view list link"))}</th>'
        "</tr></thead>"
    )
    out = []
    for app in apps:
        label = str(app["app_label"])
        title = gettext("Models in the %(name)s application") % {"name": app["name"]}
        out.append(
            f'<div class="app-{esc(label)} module'
            f'{" current-app" if _current(app.get("app_url"), path) else ""}"><table>'
            f'<caption><a href="{esc(app["app_url"])}" class="section" title="{esc(title)}">'
            f"{esc(app['name'])}</a></caption>{hidden_heads}"
        )
        out.extend(_model_row(label, model, path, show_changelinks) for model in app["models"])
        out.append("</table></div>")
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above
