from django.db import migrations, models

import qiro.rls


class Migration(migrations.Migration):
    """A company table with its row security, as every company app declares one."""

    initial = True

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("company_id", models.BigIntegerField()),
                ("title", models.CharField(max_length=100)),
            ],
        ),
        qiro.rls.EnableRowSecurity(table="deploy_fixture_note"),
    ]
