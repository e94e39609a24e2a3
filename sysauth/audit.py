"""Writing the audit log: one row per action, inside the action's own transaction.

Every action (``sysauth.actions``, ``tenants.actions``, ``registration.actions``,
``deployments.actions``) calls ``record`` once, after its checks passed and
before its transaction commits, on the alias it writes: the row commits with
the change or not at all, so a refused or failed action leaves none.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models
from django.http import HttpRequest

from sysauth.models import User
from sysauth.models_audit import AuditEntry, AuditOutcome


def acting_user_of(request: HttpRequest) -> User:
    """The signed-in person of an admin request, who acts in the actions it calls."""
    user = request.user
    assert isinstance(user, User), "the admin sites serve signed-in users only"
    return user


def target_of(obj: models.Model) -> dict[str, str]:
    """How an audit row names an object: its model, id and label as they are now."""
    return {
        "target_type": obj._meta.label_lower,
        "target_id": str(obj.pk),
        "target_label": str(obj)[:200],
    }


def record(
    *,
    using: str,
    action: str,
    acting_user: User | None,
    target: models.Model | None = None,
    outcome: str = AuditOutcome.DONE,
    details: dict[str, Any] | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
) -> AuditEntry:
    """Append the audit row of ``action`` (``acting_user`` None: the system acted).

    ``target`` is the object acted on; without one, ``target_type``,
    ``target_id`` and ``target_label`` may be given as keywords.
    """
    if not connections[using].in_atomic_block:
        raise RuntimeError("an audit row is written inside its action's transaction")
    names = (
        target_of(target)
        if target is not None
        else {
            "target_type": target_type,
            "target_id": target_id,
            "target_label": target_label[:200],
        }
    )
    return AuditEntry.objects.using(using).create(
        action=action,
        acting_user_id=acting_user.pk if acting_user is not None else None,
        acting_email=acting_user.email if acting_user is not None else "",
        outcome=outcome,
        details=details or {},
        **names,
    )
