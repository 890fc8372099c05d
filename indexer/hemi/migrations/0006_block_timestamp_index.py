"""Index hemi_block(timestamp), built CONCURRENTLY: the block table of a live explorer is big, and
a plain CREATE INDEX would block the indexer's inserts for as long as the build takes.

``atomic = False`` because CREATE INDEX CONCURRENTLY cannot run inside a transaction. If the
build is interrupted PostgreSQL leaves an INVALID index behind; rerunning ``migrate`` does not
repair it (the migration is recorded only on success, so it runs again and fails on the name):
drop it with ``DROP INDEX CONCURRENTLY hemi_block_timestamp`` and migrate again.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("hemi", "0005_blockintegrityissue"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="block",
            index=models.Index(fields=["timestamp"], name="hemi_block_timestamp"),
        ),
    ]
