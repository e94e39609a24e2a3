from django.db import migrations


class Migration(migrations.Migration):
    """A mistaken migration: the users' table loses its row security."""

    dependencies = [("sysauth", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE sysauth_user DISABLE ROW LEVEL SECURITY",
            reverse_sql="ALTER TABLE sysauth_user ENABLE ROW LEVEL SECURITY",
        ),
    ]
