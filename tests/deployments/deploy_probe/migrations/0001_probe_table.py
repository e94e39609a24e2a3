from django.db import migrations


class Migration(migrations.Migration):
    """Changes the database (a table with a row) before the failing migration runs."""

    operations = [
        migrations.RunSQL(
            "CREATE TABLE deploy_probe_marker (id int PRIMARY KEY); "
            "INSERT INTO deploy_probe_marker VALUES (1);",
            reverse_sql="DROP TABLE deploy_probe_marker;",
        ),
    ]
