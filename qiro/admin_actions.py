"""Admins whose writes are actions: configuration, and refusals shown as messages.

An action runs in a durable transaction of its own, which cannot nest inside
the one Django's admin opens around its add, change and delete views. So these
views run here without it: the form is validated, then the admin's save hooks
call the action, which commits or refuses as a whole. A refusal (a
``ValidationError``, ``EscalationRefused`` among them) shows as a translated
message, not an error page. The admin's own history entry of a deletion is
written only once the action succeeded (``log_deleted``), so a refused bulk
deletion leaves no entry claiming it happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponseRedirect

from qiro.admin_display import QiroModelAdmin


def error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class ActionAdmin(QiroModelAdmin):
    """A ``ModelAdmin`` whose save and delete hooks call actions."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> Any:
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]
        except ValidationError as error:
            messages.error(request, error_text(error))
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        try:
            return self._delete_view(request, object_id, extra_context)  # type: ignore[attr-defined]
        except ValidationError as error:
            messages.error(request, error_text(error))
            return HttpResponseRedirect(self.after_refused_delete(request))

    def after_refused_delete(self, request: HttpRequest) -> str:
        """Where a refused deletion lands: the object's page."""
        return request.path.rsplit("/delete/", 1)[0] + "/"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        try:
            return super().changelist_view(request, extra_context)
        except ValidationError as error:
            messages.error(request, error_text(error))
            return HttpResponseRedirect(request.get_full_path())

    def log_deletions(self, request: HttpRequest, queryset: Any) -> list[Any]:
        """Written by ``log_deleted`` after the deleting action succeeded."""
        return []

    def log_deleted(self, request: HttpRequest, objects: Iterable[Model]) -> None:
        super().log_deletions(request, list(objects))  # type: ignore[arg-type]


class DeletedByActionAdmin(ActionAdmin):
    """An ``ActionAdmin`` whose deletions, of one object or of a selection, are one action."""

    def delete_by_action(self, request: HttpRequest, objects: list[Any]) -> None:
        """Delete ``objects`` through the action, all or none (a refusal raises)."""
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        objects = list(queryset)
        self.delete_by_action(request, objects)
        self.log_deleted(request, objects)
