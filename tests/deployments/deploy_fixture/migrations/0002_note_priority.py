from django.db import migrations, models


class Migration(migrations.Migration):
    """AddField with a default for existing rows, and AddIndex: rendered once, replayed."""

    dependencies = [("deploy_fixture", "0001_notes")]

    operations = [
        migrations.AddField(
            model_name="note", name="priority", field=models.IntegerField(default=3)
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["company_id", "priority"], name="deploy_fixture_note_prio"),
        ),
    ]
