"""accounts 0003: calendar links are stored hashed, and existing subscriptions keep working."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0002_api")]
AFTER = [("accounts", "0003_calendar_token_hashed")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_links_are_hashed_and_the_way_back_gives_new_clear_links():
    try:
        old = migrate(BEFORE).get_model("accounts", "User")
        old.objects.create(username="a", calendar_token="token-of-a")
        old.objects.create(username="b", calendar_token="token-of-b")
        new = migrate(AFTER).get_model("accounts", "User")
        stored = dict(new.objects.values_list("username", "calendar_token_hash"))
        assert stored == {
            "a": hashlib.sha256(b"token-of-a").hexdigest(),
            "b": hashlib.sha256(b"token-of-b").hexdigest(),
        }
        back = migrate(BEFORE).get_model("accounts", "User")
        tokens = list(back.objects.values_list("calendar_token", flat=True))
        assert len(set(tokens)) == 2
        assert all(tokens)
        assert "token-of-a" not in tokens
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
