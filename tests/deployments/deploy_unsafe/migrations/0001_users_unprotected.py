from django.db import migrations


class Migration(migrations.Migration):
    """A mistaken migration: the users' table loses its row security and its company-only check."""

    dependencies = [("sysauth", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE sysauth_user DISABLE ROW LEVEL SECURITY",
            reverse_sql="ALTER TABLE sysauth_user ENABLE ROW LEVEL SECURITY",
        ),
        migrations.RunSQL(
            "ALTER TABLE sysauth_user DROP CONSTRAINT IF EXISTS qiro_company_only",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
