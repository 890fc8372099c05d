from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("indexer", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=64)),
                ("key", models.CharField(max_length=200)),
                ("payload", models.JSONField(default=dict)),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "pending"), ("running", "running"), ("done", "done"), ("failed", "failed")],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("attempts", models.IntegerField(default=0)),
                ("last_error", models.TextField(blank=True, default="")),
                ("next_attempt_at", models.DateTimeField()),
                ("lease_until", models.DateTimeField(null=True)),
                ("claim_token", models.CharField(blank=True, default="", max_length=32)),
                ("created_at", models.DateTimeField()),
                ("updated_at", models.DateTimeField()),
                ("done_at", models.DateTimeField(null=True)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("kind", "key"), name="work_item_kind_key")],
                "indexes": [
                    models.Index(
                        condition=models.Q(("state__in", ["pending", "running"])),
                        fields=["next_attempt_at", "id"],
                        name="work_item_open",
                    )
                ],
            },
        ),
    ]
