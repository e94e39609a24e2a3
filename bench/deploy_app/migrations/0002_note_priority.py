from django.db import migrations, models

# Fails in the schemas listed in public.bench_deploy_trap, when the bench made it.
TRAP = (
    "DO $$ BEGIN IF to_regclass('public.bench_deploy_trap') IS NOT NULL THEN "
    "IF EXISTS (SELECT 1 FROM public.bench_deploy_trap WHERE schema_name = current_schema()) "
    "THEN RAISE EXCEPTION 'injected failure in %', current_schema(); END IF; END IF; END $$;"
)


class Migration(migrations.Migration):
    """The new migration: AddField + AddIndex on a company table (and the bench's trap)."""

    dependencies = [("bench_deploy", "0001_notes")]

    operations = [
        migrations.AddField(
            model_name="note", name="priority", field=models.IntegerField(default=3)
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["company_id", "priority"], name="bench_deploy_note_prio"),
        ),
        migrations.RunSQL(TRAP, reverse_sql=migrations.RunSQL.noop),
    ]
