"""Questions the anonymous sign-up asks of existing rows, through SECURITY DEFINER functions.

The runtime role cannot read the registration tables; each function answers
one question (see ``registration.policies``). Run as the runtime role
without company context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections

from qiro.tenant_context import RUNTIME_ALIAS, anonymous_context
from registration.models import Application, ApplicationStatus
from tenants.models import Company
from tenants.validators import host_for, schema_name_for


@dataclass(frozen=True)
class Availability:
    brn_taken: bool
    subdomain_taken: bool


def availability(*, brn: str, subdomain: str) -> Availability:
    """Whether a BRN or a sub-domain is already pending or in use by a company."""
    with anonymous_context(), connections[RUNTIME_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT brn_taken, subdomain_taken FROM registration_availability(%s, %s, %s, %s)",
            [brn, subdomain, schema_name_for(subdomain), host_for(subdomain)],
        )
        row = cursor.fetchone()
    assert row is not None
    return Availability(brn_taken=row[0], subdomain_taken=row[1])


def subdomain_is_free(subdomain: str) -> bool:
    return not availability(brn="", subdomain=subdomain).subdomain_taken


def subdomain_held_by_application(*, subdomain: str, company: Company, **_: Any) -> bool:
    """Receiver of ``tenants.domains.subdomain_claimed``: an application not rejected holds it.

    An application that became ``company`` does not count against it.
    """
    pending = Application.objects.filter(subdomain=subdomain).exclude(
        status=ApplicationStatus.REJECTED
    )
    return pending.exclude(company=company).exists()
