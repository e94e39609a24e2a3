from django.db import migrations


class Migration(migrations.Migration):
    """RunSQL: a view and a comment, rendered once and replayed."""

    dependencies = [("deploy_fixture", "0003_welcome_note")]

    operations = [
        migrations.RunSQL(
            "CREATE VIEW deploy_fixture_note_titles AS SELECT id, title FROM deploy_fixture_note; "
            "COMMENT ON TABLE deploy_fixture_note IS 'notes of the deploy tests'",
            reverse_sql="DROP VIEW deploy_fixture_note_titles",
        ),
    ]
