"""The bases of company tables and of definer-only tables, and the two definer-only tables.

``CompanyRecord`` is the base of every table that holds company data. The two
tables here, in ``public``, are definer-only: neither is reachable by a runtime
role (``runtime_privileges = ()``; row security forced with no policy as a
second wall): only the owner writes them (``bootstrap``), and the runtime roles
reach them only through the SECURITY DEFINER functions of ``qiro.definer``
declarations, which answer one question each.
"""

from __future__ import annotations

from django.db import models

from qiro.rls import PLATFORM_ROWS, RowSecurity, company_column


class CompanyRecord(models.Model):
    """A row of one company's data, behind both walls, or a platform row without a company.

    Its ``company_id`` defaults to the company of the current transaction; the
    declared ``row_security`` puts the table on the list of protected tables
    (``qiro.rls``), and the platform role reaches only the rows with no company.
    """

    company_id = company_column()

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)

    class Meta:
        abstract = True


class DefinerOnlyTable(models.Model):
    """A table no runtime role may touch: no privilege, row security forced, no policy.

    Only the owner writes it; the runtime roles reach it only through the
    SECURITY DEFINER functions declared for it.
    """

    runtime_privileges: tuple[str, ...] = ()

    class Meta:
        abstract = True


class ServerSettings(DefinerOnlyTable):
    """The one row of limits and secrets that SECURITY DEFINER functions obey.

    Written by ``manage.py bootstrap`` from the environment
    (``qiro.server_settings.write_server_settings``); a caller's arguments
    never set a limit, a lifetime or a key.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    signup_token_seconds = models.PositiveIntegerField()
    signup_resend_limit = models.PositiveIntegerField()
    signup_resend_window = models.PositiveIntegerField()
    # Key of the verification links (see registration.services): derived from
    # SECRET_KEY, which the runtime role's SQL never sees.
    signup_token_key = models.BinaryField(max_length=32)
    login_failures_per_ip = models.PositiveIntegerField()
    login_failure_window = models.PositiveIntegerField()
    written_at = models.DateTimeField()

    class Meta:
        db_table = "qiro_server_settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="qiro_server_settings_one_row"),
            models.CheckConstraint(
                condition=models.Q(signup_token_seconds__gt=0, signup_resend_window__gt=0)
                & models.Q(login_failures_per_ip__gt=0, login_failure_window__gt=0),
                name="qiro_server_settings_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"server settings of {self.written_at:%Y-%m-%d %H:%M}"


class AddressLoginFailure(DefinerOnlyTable):
    """A failed sign-in from an address, in any company or the platform admin.

    Counted across companies, so a password spray spread over many companies
    from one address is throttled; holds no company, account or e-mail.
    """

    ip_address = models.GenericIPAddressField()
    failed_at = models.DateTimeField()

    class Meta:
        db_table = "qiro_address_login_failure"
        indexes = [
            models.Index(fields=["ip_address", "failed_at"], name="qiro_addrfail_ip_at"),
            models.Index(fields=["failed_at"], name="qiro_addrfail_at"),
        ]

    def __str__(self) -> str:
        return f"{self.ip_address} @ {self.failed_at:%Y-%m-%d %H:%M}"


# Tables no runtime role may touch, reached only through SECURITY DEFINER
# functions (verification: row security forced, no policy, no privilege).
DEFINER_ONLY_TABLES = (ServerSettings._meta.db_table, AddressLoginFailure._meta.db_table)
