from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from registration.link_state import LINK_FUNCTIONS
from registration.policies import SIGNUP_FUNCTIONS, SIGNUP_POLICIES


def ensure_token_partitions(using: str, **kwargs: Any) -> None:
    """After every migrate of the public schema: token partitions exist for the months ahead."""
    from django.conf import settings
    from django.db import connections

    if settings.DATABASES[using].get("QIRO_ROLE") != "owner":
        return
    if getattr(connections[using], "schema_name", "public") != "public":
        return
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.registration_emailverificationtoken')")
        if cursor.fetchone()[0] is None:
            return  # migrated backwards
    from registration.partitions import maintain_token_partitions

    # Retention is the maintenance command's job; this only creates.
    maintain_token_partitions(
        months_ahead=settings.QIRO_TOKEN_PARTITIONS_AHEAD, retention_months=10_000
    )


class RegistrationConfig(AppConfig):
    name = "registration"
    verbose_name = _("Business sign-up")
    # Read by qiro.db.objects: installed by migrations, compared by verification.
    database_objects = (*SIGNUP_POLICIES, *SIGNUP_FUNCTIONS, *LINK_FUNCTIONS)

    def ready(self) -> None:
        from registration.selectors import subdomain_held_by_application
        from tenants.domains import subdomain_claimed

        post_migrate.connect(ensure_token_partitions, sender=self)
        subdomain_claimed.connect(
            subdomain_held_by_application, dispatch_uid="registration.subdomain_held"
        )
