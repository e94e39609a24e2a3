"""Give every company its default roles, and its owners the owner role (idempotent).

For companies created before roles existed; new companies get them from
``create_first_administrator`` at provisioning.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from qiro import tenant_context
from sysauth import actions
from sysauth.models import Role, User, UserRole, UserType


class Command(BaseCommand):
    help = "Create the owner, admin and member roles in every company that lacks them."

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Company

        with tenant_context.platform_context():
            companies = list(Company.objects.all())
        for company in companies:
            with tenant_context.company_context(company):
                owner_role = actions.ensure_default_roles(acting_user=None)[Role.OWNER]
                if not UserRole.objects.filter(role=owner_role).exists():
                    for user in User.objects.filter(user_type=UserType.OWNER, is_active=True):
                        actions.assign_role(user=user, role=owner_role, acting_user=None)
        if options["verbosity"] >= 1:
            self.stdout.write(f"Default roles ensured in {len(companies)} companies.")
