from django.db import migrations


class Migration(migrations.Migration):
    """Passes in public, fails in the first company schema: a half-migrated database."""

    dependencies = [("deploy_probe", "0001_probe_table")]

    operations = [
        migrations.RunSQL(
            "DO $$ BEGIN IF current_schema() <> 'public' THEN "
            "RAISE EXCEPTION 'injected migration failure'; END IF; END $$;",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
