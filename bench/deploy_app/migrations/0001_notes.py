from django.db import migrations, models

import qiro.rls


class Migration(migrations.Migration):
    """A company table with row security; every bench schema holds rows in it."""

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
        qiro.rls.EnableRowSecurity(table="bench_deploy_note"),
    ]
