"""Data migrations, run forward from the previous state on real rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("publisher", "0001_initial")]
AFTER = [("publisher", "0002_approval_binds_audience")]


@pytest.mark.django_db(transaction=True)
def test_approval_binds_audience_backfills_snapshots_and_authors(roles):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        apps = executor.loader.project_state(BEFORE).apps
        User = apps.get_model("accounts", "User")
        Message = apps.get_model("publisher", "Message")
        Segment = apps.get_model("publisher", "Segment")
        author = User.objects.create(username="old-author")
        segment = Segment.objects.create(name_fr="Centre", name_nl="Centrum")
        segment.municipalities.set(["21004", "21009"])
        scheduled = Message.objects.create(title="Planned", author=author, state="scheduled")
        scheduled.audience_segments.set([segment])
        draft = Message.objects.create(title="Draft", author=author, state="draft")
        draft.audience_municipalities.set(["21004"])

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        Message = apps.get_model("publisher", "Message")
        assert Message.objects.get(pk=scheduled.pk).approved_audience == ["21004", "21009"]
        assert Message.objects.get(pk=draft.pk).approved_audience == []
        for message in Message.objects.all():
            assert list(message.editors.values_list("username", flat=True)) == ["old-author"]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
