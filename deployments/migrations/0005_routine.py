# The routine's records: daily figures snapshots and permission reports.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0004_schedules"),
    ]

    operations = [
        migrations.CreateModel(
            name="PermissionReport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period_start", models.DateTimeField(verbose_name="from")),
                ("period_end", models.DateTimeField(verbose_name="until")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                (
                    "companies",
                    models.PositiveIntegerField(default=0, verbose_name="companies with changes"),
                ),
                ("changes", models.PositiveIntegerField(default=0, verbose_name="changes")),
            ],
            options={
                "verbose_name": "permission report",
                "verbose_name_plural": "permission reports",
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="FiguresSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(verbose_name="day")),
                (
                    "company_id",
                    models.BigIntegerField(blank=True, null=True, verbose_name="company id"),
                ),
                ("schema_name", models.CharField(blank=True, max_length=63, verbose_name="schema")),
                ("companies", models.PositiveIntegerField(default=1, verbose_name="companies")),
                ("users", models.PositiveIntegerField(default=0, verbose_name="active users")),
                (
                    "active_sessions",
                    models.PositiveIntegerField(default=0, verbose_name="active sessions"),
                ),
                (
                    "schema_size_bytes",
                    models.BigIntegerField(default=0, verbose_name="schema size (bytes)"),
                ),
                ("taken_at", models.DateTimeField(verbose_name="taken")),
            ],
            options={
                "verbose_name": "figures snapshot",
                "verbose_name_plural": "figures snapshots",
                "ordering": ["-day", "schema_name"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "schema_name"), name="deploy_snapshot_day"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PermissionReportRow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("company_id", models.BigIntegerField(verbose_name="company id")),
                ("schema_name", models.CharField(max_length=63, verbose_name="schema")),
                ("company_name", models.CharField(max_length=200, verbose_name="company")),
                ("operation", models.CharField(max_length=6, verbose_name="operation")),
                ("table_name", models.CharField(max_length=63, verbose_name="what")),
                ("role_name", models.CharField(blank=True, max_length=50, verbose_name="role")),
                (
                    "actor_id",
                    models.BigIntegerField(blank=True, null=True, verbose_name="actor id"),
                ),
                (
                    "actor_email",
                    models.CharField(blank=True, max_length=254, verbose_name="changed by"),
                ),
                ("count", models.PositiveIntegerField(verbose_name="changes")),
                (
                    "report",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rows",
                        to="deployments.permissionreport",
                        verbose_name="report",
                    ),
                ),
            ],
            options={
                "verbose_name": "permission report row",
                "verbose_name_plural": "permission report rows",
                "ordering": ["report", "-count", "schema_name", "role_name", "operation"],
            },
        ),
    ]
