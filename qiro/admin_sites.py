"""The two admin sites: the platform's (public host) and each company's.

Both derive from ``QiroAdminSite``, which keeps the promise that no input gives
a server error on either site: every admin view (changelists, change pages,
actions, autocomplete and the custom views of each ``ModelAdmin``) passes
through ``QiroAdminSite.admin_view``, which answers unusable input with a
clear 400 page instead of letting it reach PostgreSQL or crash Django.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import DataError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import URLPattern, path
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from qiro.admin_display import QiroModelAdmin, ReadableColumnsMixin
from qiro.admin_log import RecentLogEntries

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger("qiro.admin")
View = TypeVar("View", bound=Callable[..., HttpResponseBase])

# What malformed input makes Django or PostgreSQL raise once the admin's own
# checks have let it through: a date drill-down past year 9999 or beyond a C
# long (OverflowError), an id of the wrong type in an action's selection
# (ValueError, ValidationError), a value missing where Django indexes the
# input (LookupError), a value PostgreSQL cannot take, such as an integer past
# bigint, an invalid regular expression or text holding NUL (DataError,
# SQLSTATE class 22).
UNUSABLE_INPUT = (OverflowError, ValueError, LookupError, ValidationError, DataError)


def holds_nul(query: QueryDict) -> bool:
    """PostgreSQL text cannot hold NUL: such a parameter never reaches a query."""
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


def holds_range_lookup(query: QueryDict) -> bool:
    """A ``__range`` lookup needs two values, which the admin never builds from one string.

    Django passes the string itself to the lookup, whose SQL then breaks in
    ways that depend on the field (IndexError, or a placeholder count that no
    longer matches on a JSON field): no filter of the admin sends one.
    """
    return any(key.endswith("__range") for key in query)


class QiroAdminSite(admin.AdminSite):
    """What both admin sites share: unusable input gets a 400 page, never a 500."""

    # The lists get the page's width (at 1280 px the sidebar and the filters left
    # a list 630 px, cutting off its last columns); the index and the
    # breadcrumbs lead everywhere the sidebar did.
    enable_nav_sidebar = False

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        """Built when a page first reads it.

        ``each_context`` asks for the list on every admin page, for the sidebar
        that these sites do not show: unread, it costs nothing.
        """
        return cast("list[Any]", SimpleLazyObject(lambda: self._app_list(request, app_label)))

    def _app_list(self, request: HttpRequest, app_label: str | None) -> list[Any]:
        """Django's list, in its order, with the names translated once.

        Django sorts the models by their lazy names, translating both sides of
        every comparison, and the page translates each name again when it
        shows it: read once here, in the request's language.
        """
        apps = list(self._build_app_dict(request, app_label).values())
        for app in apps:
            app["name"] = str(app["name"])
            for model in app["models"]:
                model["name"] = str(model["name"])
            app["models"].sort(key=lambda model: model["name"])
        return sorted(apps, key=lambda app: app["name"].lower())

    def get_log_entries(self, request: HttpRequest) -> Any:
        """The index's recent actions by a statement compiled once (``qiro.admin_log``)."""
        return RecentLogEntries()

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        return cast(View, super().admin_view(self._refusing_unusable_input(view), cacheable))

    def _refusing_unusable_input(self, view: View) -> Callable[..., HttpResponseBase]:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if holds_nul(request.GET):
                return self.bad_request(
                    request,
                    _("The address holds a NUL character, which cannot be used. Remove it."),
                )
            if holds_range_lookup(request.GET):
                return self.bad_request(
                    request, _("The address asks for a range filter, which lists do not offer.")
                )
            try:
                response = view(request, *args, **kwargs)
                if isinstance(response, SimpleTemplateResponse):
                    # Lazy querysets run while rendering: render here, inside the guard.
                    response.render()
            except UNUSABLE_INPUT as error:
                logger.warning("unusable input refused: %s %s", request.method, request.path,
                               exc_info=error)  # fmt: skip
                return self.bad_request(
                    request, _("A value in the address or the form cannot be used.")
                )
            return response

        return guarded

    def bad_request(self, request: HttpRequest, message: StrOrPromise) -> HttpResponse:
        """The 400 page: what was wrong, and a way back to the page without its parameters."""
        request.current_app = self.name
        response = TemplateResponse(
            request,
            "qiro/admin_bad_request.html",
            {
                **self.each_context(request),
                "title": _("This request cannot be answered"),
                "message": message,
                "back_url": request.path,
            },
            status=400,
        )
        return response.render()


class PlatformAdminSite(QiroAdminSite):
    site_header = _("QIRO platform administration")
    site_title = _("QIRO platform")
    index_title = _("Platform")


class CompanyAdminSite(QiroAdminSite):
    site_header = _("Company administration")
    site_title = _("QIRO")
    index_title = _("Your company")

    def has_permission(self, request: HttpRequest) -> bool:
        """Whoever's roles grant ``sysauth.use_company_admin`` (not ``is_staff``)."""
        user = request.user
        return bool(user.is_active and user.has_perm("sysauth.use_company_admin"))


platform_admin = PlatformAdminSite(name="platform_admin")
company_admin = CompanyAdminSite(name="company_admin")


class ReadOnlyAdmin(ReadableColumnsMixin, QiroModelAdmin):
    """Records written by services or the database (history, operations): shown, never edited.

    Every field it shows is read only: those named in ``fields`` need not be
    named again in ``readonly_fields``.
    """

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *(self.fields or ())]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OwnViewsMixin:
    """An admin's pages beside Django's: ``own_views`` lists each as (route, method, URL name).

    Each passes through the site's ``admin_view`` like Django's own pages, and
    comes before them, whose catch-all would otherwise take its route.
    """

    own_views: tuple[tuple[str, str, str], ...] = ()

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        own = [
            path(route, view(getattr(self, method)), name=name)
            for route, method, name in self.own_views
        ]
        return [*own, *super().get_urls()]  # type: ignore[misc]


class ObjectPageMixin:
    """A change page that shows more of its object: ``page_context(obj)`` joins its context.

    An unknown or malformed id gets the admin's own "not found" answer.
    """

    def page_context(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        extra = {**(extra_context or {}), **(self.page_context(obj) if obj is not None else {})}
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]
