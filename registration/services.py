"""The anonymous sign-up's actions: submit, verify the e-mail address, resend the link.

(The review of applications: ``registration.actions``.) They run as the
runtime role without company context, with the narrow rights of
``registration.policies``, each in one durable transaction on the runtime
alias. Nobody is signed in yet (``acting_user`` is always None): the audit row
of each step that changed something is written by the SECURITY DEFINER
function that makes the change, in that transaction
(``registration_record_signup_step``), so the runtime role can neither skip
nor forge one. The verification e-mail is sent once the transaction commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.db.citus import table_or_constraint_name
from qiro.server_settings import signup_token_key
from qiro.tenant_context import RUNTIME_ALIAS, anonymous_context
from registration import emails
from registration.models import Application
from registration.verifiers import get_verifier

# Database constraint -> (form field, message): the database decides between
# concurrent sign-ups; the losers get the same sentence as the form check.
CONFLICTS = {
    "registration_application_brn_once": (
        "business_registration_number",
        _("An application or a company with this business registration number already exists."),
    ),
    "registration_application_subdomain_once": (
        "subdomain",
        _("This sub-domain is already taken; please choose another."),
    ),
}


class SignupConflict(Exception):
    """Another application holds the BRN or the sub-domain."""

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SignupData:
    """A sign-up, already validated and normalised by the form."""

    company_name: str
    business_registration_number: str
    representative_name: str
    business_type: str
    address: str
    contact_email: str
    phone: str
    subdomain: str
    admin_full_name: str
    admin_email: str
    language: str


def token_secret(nonce: str) -> str:
    """The secret of a verification link, from the nonce a token function returned.

    ``sha256(key || nonce)``: the database made the nonce and stored only
    ``token_hash(secret)``; the key comes from SECRET_KEY
    (``qiro.server_settings``), so SQL run as the runtime role cannot turn a
    nonce into a working link.
    """
    return hashlib.sha256(signup_token_key() + bytes.fromhex(nonce)).hexdigest()


def token_hash(token: str) -> str:
    """What the database keeps of a link's secret (it computes the same itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _send_verification_on_commit(
    *, to: str, language: str, url: str, company_name: str = ""
) -> None:
    """The verification e-mail, sent once the step's transaction has committed."""
    context = {"url": url, "company_name": company_name, "hours": settings.QIRO_SIGNUP_TOKEN_HOURS}
    transaction.on_commit(
        lambda: emails.send("verify", to=to, language=language, context=context),
        using=RUNTIME_ALIAS,
    )


# --- anonymous steps (runtime role, no company) --------------------------------


def submit_application(
    *, data: SignupData, password: str, verify_url: Any, acting_user: None = None
) -> Application:
    """Store an application and its first verification token, then mail the link.

    ``password`` is hashed here and never stored; ``verify_url(token)`` builds the
    link. The token is made by the database (``registration_issue_first_token``,
    in the same transaction), with the lifetime of the server settings. Raises
    ``SignupConflict`` when another pending or active application holds the BRN
    or the sub-domain (decided by unique indexes, so concurrent sign-ups cannot
    both win).
    """
    brn_status = get_verifier().check(data.business_registration_number)
    now = timezone.now()
    application = Application(
        **asdict(data),
        admin_password_hash=make_password(password),
        terms_accepted_at=now,
        submitted_at=now,
        brn_status=brn_status.status,
        brn_checked_by=brn_status.checked_by,
    )
    with anonymous_context():
        try:
            with transaction.atomic(using=RUNTIME_ALIAS, durable=True):
                application.save(force_insert=True, using=RUNTIME_ALIAS)
                with connections[RUNTIME_ALIAS].cursor() as cursor:
                    # Makes the token and writes the step's audit row.
                    cursor.execute("SELECT registration_issue_first_token(%s)", [application.pk])
                    nonce = cursor.fetchone()[0]
                _send_verification_on_commit(
                    to=data.contact_email,
                    language=data.language,
                    url=verify_url(token_secret(nonce)),
                    company_name=data.company_name,
                )
        except IntegrityError as error:
            constraint = table_or_constraint_name(  # on Citus, the shard's name
                getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
            )
            if constraint in CONFLICTS:
                raise SignupConflict(*CONFLICTS[constraint]) from error
            raise
    return application


def verify_email(*, token: str, acting_user: None = None) -> str:
    """Use a verification token: ``verified``, ``used``, ``expired`` or ``unknown``.

    ``verified`` (the application moved on) writes the step's audit row.
    """
    with (
        anonymous_context(),
        transaction.atomic(using=RUNTIME_ALIAS, durable=True),
        connections[RUNTIME_ALIAS].cursor() as cursor,
    ):
        # The database hashes the secret itself; text with NUL cannot be sent to it.
        cursor.execute(
            "SELECT registration_consume_email_token(%s)", [token.replace("\x00", "")[:200]]
        )
        row = cursor.fetchone()
    return str(row[0]) if row and row[0] else "unknown"


def resend_verification(*, email: str, verify_url: Any, acting_user: None = None) -> str:
    """A new link for the application awaiting verification at ``email``, rate limited.

    Returns ``sent``, ``rate_limited`` or ``unknown`` (the page shows the same
    words for ``sent`` and ``unknown``, so it does not tell who applied). Only
    ``sent`` writes the step's audit row.
    """
    with (
        anonymous_context(),
        transaction.atomic(using=RUNTIME_ALIAS, durable=True),
        connections[RUNTIME_ALIAS].cursor() as cursor,
    ):
        cursor.execute(
            "SELECT outcome, language, nonce FROM registration_issue_resend_token(%s)",
            [email.strip()],
        )
        row = cursor.fetchone()
        outcome, language, nonce = (str(row[0]), row[1], row[2]) if row else ("unknown", None, "")
        if outcome == "sent" and nonce:
            _send_verification_on_commit(
                to=email.strip(), language=language or "", url=verify_url(token_secret(nonce))
            )
    return outcome
