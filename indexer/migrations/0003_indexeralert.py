from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("indexer", "0002_workitem"),
    ]

    operations = [
        migrations.CreateModel(
            name="IndexerAlert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("chain", models.CharField(max_length=32)),
                ("code", models.CharField(max_length=64)),
                ("message", models.TextField()),
                ("raised_at", models.DateTimeField()),
                ("last_seen_at", models.DateTimeField()),
                ("seen", models.IntegerField(default=1)),
                ("cleared_at", models.DateTimeField(null=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("cleared_at__isnull", True)),
                        fields=("chain", "code"),
                        name="indexer_alert_active",
                    )
                ],
            },
        ),
    ]
