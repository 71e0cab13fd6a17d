"""The dispatcher's queries stay index scans when the ledger holds a large history.

PostgreSQL chooses a plan from the table's statistics: on a table of a few rows a
sequential scan is cheapest, and a test that forced ``enable_seqscan = off`` would only show
that an index *could* serve the query. These tests write 30,000 finished deliveries (a
small history, with the shape of a real one: nearly every row sent, a handful due), run
``ANALYZE`` as autovacuum would, and read the plan PostgreSQL really chooses (``EXPLAIN``,
not ``ANALYZE``: nothing is executed, nothing is locked). The claim and next-due queries are
taken as the real functions send them.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publisher.delivery import dispatch
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.postgres

HISTORY = 30_000


@pytest.fixture
def ledger(author):
    if connection.vendor != "postgresql":
        pytest.skip("Query plans are PostgreSQL's.")
    now = timezone.now()
    due_deliveries(author=author, count=10, due_at=now - timedelta(seconds=5))
    with connection.cursor() as cursor:
        # The history: one message and occurrence per 10 deliveries, on the same channels,
        # over the past year (the same shape as bench/history.py, smaller).
        cursor.execute(
            """
            INSERT INTO publisher_message (title, audience_all, urgency, status, state, kind, recurrence, cap,
                content_hash, approved_hash, approved_by_policy, state_reason, created_at, updated_at, author_id,
                approved_audience)
            SELECT 'History ' || g, false, 'routine', 'actual', 'published', 'Alert', '', '{}', '', '', false, '',
                now() - g * interval '17 minutes', now() - g * interval '17 minutes', %(author)s, '[]'
            FROM generate_series(1, %(messages)s) g
            """,
            {"author": author.pk, "messages": HISTORY // 10},
        )
        cursor.execute(
            """
            INSERT INTO publisher_occurrence (due_at, created_at, message_id)
            SELECT created_at, created_at, id FROM publisher_message WHERE title LIKE %(history)s
            """,
            {"history": "History %"},
        )
        cursor.execute(
            """
            INSERT INTO publisher_delivery (language, state, due_at, attempts, urgent, remote_id, remote_url,
                receipt, last_error, sent_at, created_at, updated_at, channel_id, occurrence_id)
            SELECT 'fr', CASE WHEN (o.id + c.id) %% 20 = 0 THEN 'failed' ELSE 'sent' END, o.due_at, 1, false,
                'r', '', '{}', '', o.due_at, o.due_at, o.due_at, c.id, o.id
            FROM publisher_occurrence o
            JOIN publisher_message m ON m.id = o.message_id AND m.title LIKE %(history)s
            CROSS JOIN (SELECT id FROM publisher_channel ORDER BY id LIMIT 10) c
            """,
            {"history": "History %"},
        )
        cursor.execute("ANALYZE publisher_delivery, publisher_occurrence, publisher_message, publisher_channel")
        cursor.execute("SELECT count(*) FROM publisher_delivery")
        assert cursor.fetchone()[0] == HISTORY + 10
    return now


def plans(call) -> list[tuple[str, str]]:
    """(SQL, plan) of each SELECT on publisher_delivery the call sends, in a rolled-back transaction."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            call()
        statements = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].startswith("SELECT") and 'FROM "publisher_delivery"' in q["sql"]
        ]
        found = []
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(f"EXPLAIN {sql}")
                found.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
        transaction.set_rollback(True)
    assert found, "the call sent no SELECT on publisher_delivery"
    return found


def assert_index_only(found: list[tuple[str, str]]) -> None:
    for sql, plan in found:
        assert "Seq Scan on publisher_delivery" not in plan, f"{sql}\n{plan}"
        assert "Index" in plan, f"{sql}\n{plan}"


def test_the_claim_reads_the_due_rows_from_an_index(ledger):
    def claim() -> None:
        assert dispatch.deliveries_claim(now=ledger).handled == 10

    found = plans(claim)
    assert any("FOR UPDATE" in sql for sql, _plan in found)
    assert_index_only(found)


def test_the_next_due_time_comes_from_an_index(ledger):
    found = plans(dispatch.next_due_at)
    # The earliest waiting delivery, how many fall due with it (the burst's lead), the leases.
    assert len(found) == 3
    assert_index_only(found)
