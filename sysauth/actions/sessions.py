"""Actions that end sessions: one, a user's, the whole company's, one's own.

An ended session's browser is signed out on its next request. Each action runs
in one durable transaction on the context's alias with its audit row (the
number of sessions ended in its details). Ending someone else's sessions is
managing them: the role hierarchy decides (``sysauth.hierarchy.ensure_may_manage``),
whichever entry point asks — the company admin or the API. ``clean_sessions_everywhere`` is the
routine's housekeeping, not a person's action: it writes no audit row.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from qiro import tenant_context
from sysauth import hierarchy
from sysauth.actions.base import company_action
from sysauth.login_throttle import forget_old_login_failures
from sysauth.models import Session, SessionStatus, User
from sysauth.models_audit import AuditAction, AuditOutcome


def end_sessions(sessions: QuerySet[Session], *, reason: str, acting_user: User | None) -> int:
    """Mark the active ones of ``sessions`` revoked (inside the caller's transaction)."""
    return sessions.filter(status=SessionStatus.ACTIVE).update(
        status=SessionStatus.REVOKED,
        ended_at=timezone.now(),
        revoked_by_id=acting_user.pk if acting_user is not None else None,
        revoked_reason=reason[:200],
    )


def _outcome(ended: int) -> str:
    return AuditOutcome.DONE if ended else AuditOutcome.UNCHANGED


def _ensure_may_end_sessions_of(user: User | None, *, acting_user: User | None) -> None:
    """Anyone may end their own sessions; someone else's only if they may manage that user."""
    if user is not None and (acting_user is None or user.pk != acting_user.pk):
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)


def revoke_session(*, session: Session, reason: str, acting_user: User | None) -> bool:
    """End one session; its browser is signed out on its next request.

    Refused (``EscalationRefused``) when the session's user is one that
    ``acting_user`` may not manage, e.g. an owner's session for an administrator.
    """
    with company_action(acting_user, history_actor=False) as action:
        _ensure_may_end_sessions_of(session.user, acting_user=acting_user)
        ended = end_sessions(
            Session.objects.filter(pk=session.pk), reason=reason, acting_user=acting_user
        )
        action.record(
            AuditAction.SESSION_REVOKE,
            target=session,
            outcome=_outcome(ended),
            details={"reason": reason[:200]},
        )
    return bool(ended)


def revoke_user_sessions(
    *, user: User, reason: str, acting_user: User | None, keep_session_pk: int | None = None
) -> int:
    """End every active session of ``user`` (but ``keep_session_pk``). Returns how many.

    Refused like ``revoke_session`` when ``acting_user`` may not manage ``user``.
    """
    sessions = Session.objects.filter(user=user)
    if keep_session_pk is not None:
        sessions = sessions.exclude(pk=keep_session_pk)
    with company_action(acting_user, history_actor=False) as action:
        _ensure_may_end_sessions_of(user, acting_user=acting_user)
        ended = end_sessions(sessions, reason=reason, acting_user=acting_user)
        action.record(
            AuditAction.USER_SESSIONS_REVOKE,
            target=user,
            outcome=_outcome(ended),
            details={"reason": reason[:200], "sessions_ended": ended},
        )
    return ended


def revoke_company_sessions(*, reason: str, acting_user: User | None) -> int:
    """End every active session of the current company (e.g. when it is suspended).

    Must run inside the company's context; returns the number of sessions ended.
    """
    company_id = tenant_context.current_context().company_id
    if company_id is None:
        raise RuntimeError("revoke_company_sessions needs a company context")
    with company_action(acting_user, history_actor=False) as action:
        ended = end_sessions(Session.objects.all(), reason=reason, acting_user=acting_user)
        action.record(
            AuditAction.COMPANY_SESSIONS_REVOKE,
            target_type="tenants.company",
            target_id=str(company_id),
            target_label=tenant_context.current_context().schema_name,
            outcome=_outcome(ended),
            details={"reason": reason[:200], "sessions_ended": ended},
        )
    return ended


def sign_out_session(*, user: User, session_pk: int) -> bool:
    """A person ends one of their own sessions (they are the acting user)."""
    with company_action(user, history_actor=False) as action:
        ended = end_sessions(
            Session.objects.filter(pk=session_pk, user=user),
            reason="signed out by the user",
            acting_user=user,
        )
        action.record(
            AuditAction.SESSION_SIGN_OUT,
            target_type="sysauth.session",
            target_id=str(session_pk),
            target_label=str(user),
            outcome=_outcome(ended),
        )
    return bool(ended)


def clean_sessions_everywhere() -> int:
    """Expire sessions past their expiry, drop long-ended ones and old failed sign-ins.

    In the public schema (platform staff), then in every company's schema in
    its own context. Run by the routine's hourly job and by
    ``manage.py expire_sessions``; returns the number of companies cleaned.
    """
    from sysauth.sessions.db import SessionStore
    from tenants.models import Company

    with tenant_context.platform_context():
        companies = list(Company.objects.all())
        SessionStore.clear_expired()
        forget_old_login_failures()
    for company in companies:
        with tenant_context.company_context(company):
            SessionStore.clear_expired()
            forget_old_login_failures()
    return len(companies)
