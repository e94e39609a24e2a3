from django.db import migrations


class Migration(migrations.Migration):
    """Fails in the schemas that the test lists in public.deploy_fixture_trap, if it exists."""

    dependencies = [("deploy_fixture", "0004_note_titles")]

    operations = [
        migrations.RunSQL(
            "DO $$ BEGIN IF to_regclass('public.deploy_fixture_trap') IS NOT NULL THEN "
            "IF EXISTS (SELECT 1 FROM public.deploy_fixture_trap "
            "           WHERE schema_name = current_schema()) "
            "THEN RAISE EXCEPTION 'injected failure in %', current_schema(); END IF; "
            "END IF; END $$;",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
