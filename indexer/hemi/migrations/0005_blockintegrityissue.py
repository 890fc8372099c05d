import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("hemi", "0004_explorer_read_paths_and_l1_fee"),
    ]

    operations = [
        migrations.CreateModel(
            name="BlockIntegrityIssue",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("check_name", models.CharField(max_length=64)),
                ("expected", models.TextField()),
                ("found", models.TextField()),
                ("tx_index", models.IntegerField(null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "block",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="integrity_issues",
                        to="hemi.block",
                    ),
                ),
            ],
        ),
    ]
