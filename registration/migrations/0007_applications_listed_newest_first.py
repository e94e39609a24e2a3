"""The review list, newest first, read from an index rather than a sort of every application."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registration", "0006_signup_steps_audited")]

    operations = [
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["submitted_at", "id"], name="registration_app_submitted"),
        ),
    ]
