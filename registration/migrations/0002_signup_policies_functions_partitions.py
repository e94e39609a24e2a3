"""Least privilege for the anonymous sign-up, and the first token partitions.

SECURITY DEFINER functions (sql/0002_signup_functions.sql), then the row
policies and function grants of ``registration.policies`` (role names come from
the settings, so they are applied in Python), then this month's and the next
token partitions. Every step is reversible.
"""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def enable_policies(apps, schema_editor):
    from registration import policies

    with schema_editor.connection.cursor() as cursor:
        policies.apply(cursor, policies.enable_statements())


def disable_policies(apps, schema_editor):
    from registration import policies

    with schema_editor.connection.cursor() as cursor:
        policies.apply(cursor, policies.disable_statements())


def create_partitions(apps, schema_editor):
    from registration.partitions import maintain_token_partitions

    maintain_token_partitions(months_ahead=3, retention_months=120)


class Migration(migrations.Migration):
    dependencies = [("registration", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0002_signup_functions.sql").read_text(),
            reverse_sql=(SQL_DIR / "0002_signup_functions_reverse.sql").read_text(),
        ),
        migrations.RunPython(enable_policies, disable_policies),
        migrations.RunPython(create_partitions, migrations.RunPython.noop),
    ]
