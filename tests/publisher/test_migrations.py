"""Data migrations, run forward from the previous state on real rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def _with_accounts_at_leaf(*targets):
    # Other apps stay at their newest state: rows made for the old publisher schema must fit
    # the tables as they are (accounts has moved on since publisher 0001).
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return [*targets, *[node for node in leaves if node[0] == "accounts"]]


BEFORE = [("publisher", "0001_initial")]
AFTER = [("publisher", "0002_approval_binds_audience")]


@pytest.mark.django_db(transaction=True)
def test_approval_binds_audience_backfills_snapshots_and_authors(roles):
    before = _with_accounts_at_leaf(*BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
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
        after = _with_accounts_at_leaf(*AFTER)
        executor.migrate(after)
        apps = executor.loader.project_state(after).apps
        Message = apps.get_model("publisher", "Message")
        assert Message.objects.get(pk=scheduled.pk).approved_audience == ["21004", "21009"]
        assert Message.objects.get(pk=draft.pk).approved_audience == []
        for message in Message.objects.all():
            assert list(message.editors.values_list("username", flat=True)) == ["old-author"]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_needs_reconnect_since_starts_at_the_last_update_of_channels_already_flagged():
    before = _with_accounts_at_leaf(("publisher", "0003_dispatcher_heartbeat"))
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        Channel = executor.loader.project_state(before).apps.get_model("publisher", "Channel")
        flagged = Channel.objects.create(name="Flagged", kind="outbox", language="fr", needs_reconnect=True)
        fine = Channel.objects.create(name="Fine", kind="outbox", language="fr")
        after = _with_accounts_at_leaf(("publisher", "0004_channel_needs_reconnect_since"))
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        Channel = executor.loader.project_state(after).apps.get_model("publisher", "Channel")
        flagged = Channel.objects.get(pk=flagged.pk)
        assert flagged.needs_reconnect_since == flagged.updated_at
        assert Channel.objects.get(pk=fine.pk).needs_reconnect_since is None
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
