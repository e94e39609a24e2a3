"""What the database must contain beyond tables: declared beside the models.

A model lists its database objects in ``database_expectations``::

    class RolePermission(models.Model):
        database_expectations = (DatabaseTrigger("record_role_permissions_change"),)

    class EmailVerificationToken(models.Model):
        database_expectations = (MonthlyPartitions(ahead=1),)

Verification (``deployments.verification``) reads these declarations for
every installed model and checks them in every schema where the model's table
lives; nothing there counts objects by hand. Row security, ENUM types, indexes
and constraints need no declaration: they are read from ``row_security``,
``qiro.db.fields.EnumField`` and ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models

from qiro.app_labels import shared_app_labels, tenant_app_labels


@dataclass(frozen=True)
class DatabaseTrigger:
    """A trigger that must exist and be enabled on the model's table (or ``table``).

    With ``events`` (``AFTER INSERT OR UPDATE OR DELETE``) and the plpgsql
    ``function_body`` of its function (named like the trigger, in the table's
    schema), it is declared whole: ``secure_schema`` installs it with its
    hash (``qiro.db.objects``) and verification compares the installed one.
    """

    name: str
    table: str | None = None
    events: str = ""
    function_body: str = ""


@dataclass(frozen=True)
class MonthlyPartitions:
    """A range-partitioned table with a partition for this month and ``ahead`` more."""

    table: str | None = None
    ahead: int = 1


Expectation = DatabaseTrigger | MonthlyPartitions


@dataclass(frozen=True)
class Declared:
    """One expectation bound to the table it applies to and where that table lives."""

    expectation: Expectation
    table: str
    in_public: bool
    in_companies: bool


def model_scope(model: type[models.Model]) -> tuple[bool, bool]:
    """(lives in public, lives in every company schema), as django-tenants routes it."""
    label = model._meta.app_label
    # Django's own apps keep their module path as label's last part too.
    return label in shared_app_labels(), label in tenant_app_labels()


def declared_expectations() -> list[Declared]:
    """Every expectation declared by an installed model."""
    found: list[Declared] = []
    for model in apps.get_models():
        in_public, in_companies = model_scope(model)
        for expectation in getattr(model, "database_expectations", ()) or ():
            table = expectation.table or model._meta.db_table
            found.append(Declared(expectation, table, in_public, in_companies))
    return found
