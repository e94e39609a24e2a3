from django.db import migrations


def welcome(apps, schema_editor):
    """Reads the schema it runs in: runs per schema, never rendered once."""
    note = apps.get_model("deploy_fixture", "Note")
    count = note.objects.using(schema_editor.connection.alias).count()
    note.objects.using(schema_editor.connection.alias).create(
        company_id=0, title=f"welcome after {count}", priority=1
    )


class Migration(migrations.Migration):
    dependencies = [("deploy_fixture", "0002_note_priority")]

    operations = [migrations.RunPython(welcome, migrations.RunPython.noop)]
