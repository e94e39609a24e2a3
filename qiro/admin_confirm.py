"""The one "are you sure?" page of both admin sites.

An admin action (or a custom admin view) that needs confirmation returns
``confirmation_page(...)`` until ``is_confirmed(request)``: the page names what
will be changed, carries the selection and the action through hidden fields,
shows an optional form (a reason, a typed name) and posts back with
``confirm=yes``. The action then calls its action function; it computes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django_stubs_ext import StrOrPromise

CONFIRM_FIELD = "confirm"


def is_confirmed(request: HttpRequest) -> bool:
    """Whether this POST comes from the confirmation page's button."""
    return request.method == "POST" and CONFIRM_FIELD in request.POST


def confirmation_page(
    modeladmin: ModelAdmin[Any],
    request: HttpRequest,
    *,
    title: StrOrPromise,
    intro: StrOrPromise,
    items: Iterable[StrOrPromise] = (),
    selected: Iterable[Any] = (),
    confirm_label: StrOrPromise,
    form: forms.Form | None = None,
    warning: bool = False,
) -> TemplateResponse:
    """The confirmation page for ``modeladmin``'s objects (``selected``: their pks, if any)."""
    opts = modeladmin.model._meta
    site = modeladmin.admin_site
    return TemplateResponse(
        request,
        "admin/qiro_confirm.html",
        {
            **site.each_context(request),
            "title": title,
            "intro": intro,
            "items": list(items),
            "selected": [str(pk) for pk in selected],
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "confirm_field": CONFIRM_FIELD,
            "confirm_label": confirm_label,
            "form": form,
            "warning": warning,
            "opts": opts,
            "index_url": reverse(f"{site.name}:index"),
            "changelist_url": reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist"),
        },
    )
