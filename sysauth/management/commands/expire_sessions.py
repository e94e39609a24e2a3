"""Mark sessions past their expiry as expired and drop long-ended ones, in every schema."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from qiro import tenant_context
from sysauth import services
from sysauth.sessions.db import SessionStore


class Command(BaseCommand):
    help = (
        "Expire sessions past their expiry date, delete sessions ended more than 30 days ago "
        "and old failed sign-ins, in every company schema and the public schema. Run it "
        "periodically (e.g. hourly from cron)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Company

        with tenant_context.platform_context():
            companies = list(Company.objects.all())
            SessionStore.clear_expired()
            services.forget_old_login_failures()
        for company in companies:
            with tenant_context.company_context(company):
                SessionStore.clear_expired()
                services.forget_old_login_failures()
        if options["verbosity"] >= 1:
            self.stdout.write(f"Sessions cleaned in {len(companies)} companies and public.")
