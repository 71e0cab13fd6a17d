"""A year of history must slow nothing: the dispatcher's queries and the staff pages, timed on
an (almost) empty ledger, then again after 1,000,000 historical deliveries are added.

Usage (PostgreSQL + Redis, a database of your own: the benchmark empties Tandem's tables,
and makes, then drops, a second database named after it with ``_history`` appended):

    createdb -h 127.0.0.1 -U postgres hist_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hist_bench REDIS_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/history.py [--messages 100000] [--per-message 10] [--rounds 6] [--runs 3]

1. Empties the publisher tables and writes the current rows: 20 channels, 110 messages of
   the last week (so the lists' first page is full either way; 60 of their deliveries failed,
   so the home page's decisions list is full either way too), 10 deliveries due now (what
   the dispatcher claims), 30 messages scheduled over the coming weeks, 5 awaiting approval.
2. Copies that database (``CREATE DATABASE … TEMPLATE``) and adds the history to the copy
   with ``INSERT … SELECT generate_series`` (no row goes through Python): 100,000 messages
   over the past year (two variants, one municipality each, one occurrence), 10 deliveries
   per occurrence (90 % sent, 7 % failed, 3 % expired), one attempt per sent or failed
   delivery, then ``VACUUM ANALYZE`` (what autovacuum would have done by then; the empty
   database gets one too). Prints the build time.
3. Times each query and page on both databases in alternation (``--rounds`` × ``--runs``
   calls each, median), so a change in the machine's load weighs on both alike; prints
   empty ms, with history ms, ratio and the query count on each.

The claim is the real ``dispatch.deliveries_claim`` inside a transaction that is rolled
back (nothing is handed over, the due rows stay due); next-due is ``dispatch.next_due_at``.
The calendar month is the month of the scheduled rows (next month); the current month,
which holds the history's last weeks, is printed apart: it shows thousands of entries, so
its cost follows what it shows, not the table's size.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import django_setup  # noqa: E402

STATIC_PLAIN = "django.contrib.staticfiles.storage.StaticFilesStorage"

TABLES = [
    "publisher_deliveryattempt",
    "publisher_delivery",
    "publisher_occurrence",
    "publisher_variant",
    "publisher_attachment",
    "publisher_message_audience_municipalities",
    "publisher_message_audience_zones",
    "publisher_message_audience_provinces",
    "publisher_message_audience_segments",
    "publisher_message_editors",
    "publisher_message",
    "publisher_channel_municipalities",
    "publisher_channel",
    "publisher_auditevent",
]
CHANNELS = 20
RECENT = 110
# More than the home page lists (publisher.workflow.newsroom.DECISIONS_LIMIT).
RECENT_FAILURES = 60


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


def current_rows() -> dict[str, object]:
    """What a newsroom has in flight on any day: the rows the pages and the dispatcher work on."""
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import roles_sync
    from accounts.tokens import api_token_create
    from publisher.models import (
        Channel,
        Delivery,
        Message,
        MessageState,
        Municipality,
        Occurrence,
        Variant,
    )
    from publisher.territory.reference_data import municipalities_load

    roles_sync()
    if not Municipality.objects.exists():
        municipalities_load()
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True, "email": "a@example.org"}
    )
    author, _ = User.objects.get_or_create(username="bench-author", defaults={"is_staff": True})
    _token, plaintext = api_token_create(user=admin, name="bench", scopes=["read"], actor=admin)
    channels = Channel.objects.bulk_create(
        [
            Channel(name=f"bench {i:02d}", kind="fake", language="fr" if i % 2 == 0 else "nl", covers_all=True)
            for i in range(CHANNELS)
        ]
    )
    now = timezone.now()
    per_message = 10

    def message(title: str, state: str, due_at, deliveries: bool) -> None:
        m = Message.objects.create(
            title=title, author=author, state=state, publish_at=due_at, audience_all=True, content_hash="x"
        )
        Variant.objects.bulk_create(
            [Variant(message=m, language=lang, text=f"{title} {lang.upper()}") for lang in ("fr", "nl")]
        )
        if not deliveries:
            return
        occurrence = Occurrence.objects.create(message=m, due_at=due_at)
        Delivery.objects.bulk_create(
            [
                Delivery(occurrence=occurrence, channel=c, language=c.language, due_at=due_at, next_attempt_at=due_at)
                for c in channels[:per_message]
            ]
        )

    # Last week's messages: the lists' first page is full (100 rows) with or without the history.
    for i in range(RECENT):
        message(f"recent {i}", MessageState.PUBLISHED, now - timedelta(days=6, hours=-i), True)
    Delivery.objects.filter(occurrence__message__state=MessageState.PUBLISHED).update(
        state="sent", next_attempt_at=None, attempts=1, remote_id="r", sent_at=now - timedelta(days=1)
    )
    # A newsroom always has a few deliveries waiting for a decision (retry, give up, posted by
    # hand): the home page shows its full list of them with or without the year behind, so the
    # ratio measures the history's weight, not a longer list.
    failing = Delivery.objects.filter(occurrence__message__state=MessageState.PUBLISHED).order_by("-due_at", "-pk")
    Delivery.objects.filter(pk__in=list(failing.values_list("pk", flat=True)[:RECENT_FAILURES])).update(
        state="failed", remote_id="", sent_at=None, last_error="HTTP 503"
    )
    message("due now", MessageState.SCHEDULED, now - timedelta(seconds=30), True)
    for i in range(30):
        message(f"scheduled {i}", MessageState.SCHEDULED, now + timedelta(days=30, hours=i * 19), True)
    for i in range(5):
        message(f"submitted {i}", MessageState.SUBMITTED, now + timedelta(days=2, hours=i), False)
    return {"admin": admin, "token": plaintext, "channels": [c.pk for c in channels], "now": now}


def history_build(*, messages: int, per_message: int, channel_ids: list[int], author_id: int) -> float:
    """The year behind: every row written by PostgreSQL itself from generate_series."""
    from django.db import connection

    began = time.perf_counter()
    seconds = int(365 * 86400 / messages)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM publisher_message")
        mbase = cursor.fetchone()[0] + 1000
        cursor.execute("SELECT coalesce(max(id), 0) FROM publisher_occurrence")
        obase = cursor.fetchone()[0] + 1000
        cursor.execute("SELECT nis_code FROM publisher_municipality ORDER BY nis_code")
        nis = [row[0] for row in cursor.fetchall()]
        params = {"n": messages, "mbase": mbase, "obase": obase, "author": author_id, "step": seconds}
        # The year ends an hour ago: nothing of it is due any more.
        start = "(now() - interval '365 days' - interval '1 hour')"
        cursor.execute(
            f"""
            INSERT INTO publisher_message (id, title, audience_all, urgency, status, state, kind, publish_at,
                recurrence, recurrence_start, cap, content_hash, approved_hash, approved_at, approved_by_policy,
                state_reason, created_at, updated_at, approved_by_id, author_id, follows_id, approved_audience)
            SELECT %(mbase)s + g, 'History ' || g, false, 'routine', 'actual',
                CASE WHEN g %% 20 = 0 THEN 'partially_failed' ELSE 'published' END, 'Alert',
                {start} + g * %(step)s * interval '1 second', '', NULL, '{{}}', md5(g::text), md5(g::text),
                {start} + g * %(step)s * interval '1 second' - interval '2 hours', false, '',
                {start} + g * %(step)s * interval '1 second' - interval '1 day',
                {start} + g * %(step)s * interval '1 second', NULL, %(author)s, NULL, '[]'
            FROM generate_series(1, %(n)s) g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO publisher_variant (language, text, link, message_id)
            SELECT lang, 'Historique ' || g || ' ' || lang || repeat(' texte', 30), '', %(mbase)s + g
            FROM generate_series(1, %(n)s) g, (VALUES ('fr'), ('nl')) AS l(lang)
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO publisher_message_audience_municipalities (message_id, municipality_id)
            SELECT %(mbase)s + g, (%(nis)s::text[])[1 + g %% %(count)s] FROM generate_series(1, %(n)s) g
            """,
            {**params, "nis": nis, "count": len(nis)},
        )
        cursor.execute(
            f"""
            INSERT INTO publisher_occurrence (id, due_at, created_at, message_id)
            SELECT %(obase)s + g, {start} + g * %(step)s * interval '1 second',
                {start} + g * %(step)s * interval '1 second' - interval '2 hours', %(mbase)s + g
            FROM generate_series(1, %(n)s) g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO publisher_delivery (language, state, due_at, attempts, next_attempt_at, lease_expires_at,
                urgent, remote_id, remote_url, receipt, last_error, lateness_ms, sent_at, created_at, updated_at,
                channel_id, reply_to_id, occurrence_id)
            SELECT c.language, s.state, o.due_at, CASE WHEN s.state = 'expired' THEN 0 ELSE 1 END, NULL, NULL,
                false, CASE WHEN s.state = 'sent' THEN 'remote-' || o.id || '-' || c.id ELSE '' END,
                CASE WHEN s.state = 'sent' THEN 'https://example.org/p/' || o.id || '/' || c.id ELSE '' END,
                '{}', CASE WHEN s.state = 'sent' THEN '' ELSE 'history' END,
                CASE WHEN s.state = 'sent' THEN 40 ELSE NULL END,
                CASE WHEN s.state = 'sent' THEN o.due_at + interval '40 milliseconds' ELSE NULL END,
                o.created_at, o.due_at + interval '1 second', c.id, NULL, o.id
            FROM publisher_occurrence o
            CROSS JOIN LATERAL (
                SELECT id, language FROM publisher_channel WHERE id = ANY(%(channels)s) ORDER BY id LIMIT %(per)s
            ) c
            CROSS JOIN LATERAL (
                SELECT CASE WHEN (o.id + c.id) %% 100 < 90 THEN 'sent'
                            WHEN (o.id + c.id) %% 100 < 97 THEN 'failed' ELSE 'expired' END AS state
            ) s
            WHERE o.id > %(obase)s
            """,
            {**params, "channels": channel_ids, "per": per_message},
        )
        cursor.execute(
            """
            INSERT INTO publisher_deliveryattempt (started_at, finished_at, outcome, http_status, error,
                duration_ms, delivery_id)
            SELECT d.due_at, d.due_at + interval '40 milliseconds',
                CASE WHEN d.state = 'sent' THEN 'sent' ELSE 'failed' END,
                CASE WHEN d.state = 'sent' THEN 200 ELSE 500 END,
                CASE WHEN d.state = 'sent' THEN '' ELSE 'history' END, 40, d.id
            FROM publisher_delivery d JOIN publisher_occurrence o ON o.id = d.occurrence_id
            WHERE o.id > %(obase)s AND d.state <> 'expired'
            """,
            params,
        )
        for table in ("publisher_message", "publisher_occurrence"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    vacuum()
    return time.perf_counter() - began


def vacuum() -> None:
    """What autovacuum would have done by the time anyone looks (Django runs in autocommit here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def counts() -> str:
    from publisher.models import Delivery, DeliveryAttempt, Message, Occurrence, Variant

    return (
        f"{Message.objects.count():,} messages, {Variant.objects.count():,} variants, "
        f"{Occurrence.objects.count():,} occurrences, {Delivery.objects.count():,} deliveries, "
        f"{DeliveryAttempt.objects.count():,} attempts"
    )


def queries_of(fn: Callable[[], object]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()
    connection.queries_log.clear()  # a full log (DEBUG keeps 9,000) would hide the count
    with CaptureQueriesContext(connection) as captured:
        fn()
    # Read now: captured_queries reads the live log, which each request empties when it starts.
    return len(captured.captured_queries)


def samples_of(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall times in ms of ``runs`` calls after one warm-up."""
    fn()
    found = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        found.append((time.perf_counter() - began) * 1000)
    return found


def database_use(name: str) -> None:
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def database_clone(source: str, target: str) -> None:
    """The history database starts as a copy of the empty one: same rows, same ids, same sessions."""
    import psycopg
    from django.db import connections

    connections.close_all()
    s = connections["default"].settings_dict
    with psycopg.connect(
        dbname="postgres",
        user=s.get("USER") or None,
        password=s.get("PASSWORD") or None,
        host=s.get("HOST") or None,
        port=s.get("PORT") or None,
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{target}"')
        if source:
            admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def context_again() -> dict[str, object]:
    """The current rows of a kept database: a new token and the time the due rows are claimed at."""
    from accounts.models import User
    from accounts.tokens import api_token_create
    from publisher.models import Occurrence

    admin = User.objects.get(username="bench-admin")
    _token, plaintext = api_token_create(user=admin, name="bench again", scopes=["read"], actor=admin)
    due = Occurrence.objects.get(message__title="due now").due_at
    return {"admin": admin, "token": plaintext, "now": due + timedelta(seconds=30)}


def targets(ctx: dict[str, object]) -> dict[str, Callable[[], object]]:
    from django.db import transaction
    from django.test import Client

    from publisher.delivery import dispatch

    now = ctx["now"]
    web = Client()
    web.force_login(ctx["admin"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {ctx['token']}")
    month = (now + timedelta(days=45)).date().isoformat()  # type: ignore[operator]

    def claim() -> object:
        with transaction.atomic():
            handled = dispatch.deliveries_claim(now=now).handled  # type: ignore[arg-type]
            assert handled == 10, handled
            transaction.set_rollback(True)
        return handled

    def get(client: Client, url: str) -> Callable[[], object]:
        def run() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return run

    return {
        "claim (deliveries_claim)": claim,
        "next due (next_due_at)": dispatch.next_due_at,
        "API messages, 100 a page": get(api, "/api/v1/messages/?limit=100"),
        "admin message list": get(web, "/admin/publisher/message/"),
        "admin delivery list": get(web, "/admin/publisher/delivery/"),
        "calendar month": get(web, f"/admin/publisher/message/calendar/?view=month&date={month}"),
        "newsroom home (/admin/)": get(web, "/admin/"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="historical messages (default 100,000)")
    parser.add_argument("--per-message", type=int, default=10, help="deliveries per message (default 10)")
    parser.add_argument("--rounds", type=int, default=6, help="alternations between the two databases (default 6)")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per figure and round (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the <db>_history database afterwards")
    parser.add_argument("--reuse", action="store_true", help="time the databases a run with --keep left")
    parser.add_argument("--only", nargs="*", default=[], help="time only the figures whose name has one of these")
    args = parser.parse_args()
    django_setup()
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # Time what production runs: no query log (CaptureQueriesContext turns it on when counting).
    settings.DEBUG = False
    # Without DEBUG the hashed-name storage wants `collectstatic`'s manifest: this measures the
    # database, not static files, so pages link the plain names.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_PLAIN}}
    empty_db = connection.settings_dict["NAME"]
    history_db = f"{empty_db}_history"
    runs: dict[str, dict[str, Callable[[], object]]] = {}
    if args.reuse:
        # Time again what a previous run with --keep left (to re-measure a figure the load blurred).
        for db in (empty_db, history_db):
            database_use(db)
            runs[db] = targets(context_again())
    else:
        reset()
        ctx = current_rows()
        runs[empty_db] = runs[history_db] = targets(ctx)  # signed in now: both databases hold the session
        vacuum()
        print(f"Empty ledger ({empty_db}): {counts()}; {load()}")

        from accounts.models import User

        author = User.objects.get(username="bench-author")
        database_clone(empty_db, history_db)
        database_use(history_db)
        elapsed = history_build(
            messages=args.messages,
            per_message=args.per_message,
            channel_ids=ctx["channels"],  # type: ignore[arg-type]
            author_id=author.pk,
        )
        print(f"History built in {elapsed:.1f} s ({history_db}): {counts()}; {load()}")
    names = [name for name in runs[empty_db] if not args.only or any(word in name for word in args.only)]

    # Both databases on the same server, timed in alternation: a change in the machine's load
    # (other processes share its two cores) weighs on both columns alike.
    queries: dict[str, dict[str, int]] = {}
    times: dict[str, dict[str, list[float]]] = {empty_db: {}, history_db: {}}
    for db in (empty_db, history_db):
        database_use(db)
        queries[db] = {name: queries_of(runs[db][name]) for name in names}
    for _round in range(args.rounds):
        for db in (empty_db, history_db):
            database_use(db)
            for name in names:
                times[db].setdefault(name, []).extend(samples_of(runs[db][name], args.runs))

    print()
    print(f"{args.rounds * args.runs} calls each, the two databases alternating; median (and fastest) ms")
    print(f"{'':<28} {'empty ms':>15} {'history ms':>15} {'ratio':>11} {'queries':>8}")
    for name in names:
        empty, full = times[empty_db][name], times[history_db][name]
        e_ms, h_ms = statistics.median(empty), statistics.median(full)
        ratio, fastest = h_ms / e_ms, min(full) / min(empty)
        e_q, h_q = queries[empty_db][name], queries[history_db][name]
        flag = "" if min(ratio, fastest) <= 1.2 else "  > 20 %"
        same = f"{e_q}/{h_q}" + ("" if e_q == h_q else " !")
        print(
            f"{name:<28} {e_ms:>7.1f} ({min(empty):>5.1f}) {h_ms:>7.1f} ({min(full):>5.1f})"
            f" {ratio:>4.2f} ({fastest:>4.2f}) {same:>8}{flag}"
        )
    print(f"({load()})")

    if args.only:
        if not args.keep:
            database_clone("", history_db)
        return
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from publisher.models import Occurrence
    from publisher.views.calendar import _window

    web = Client()
    web.force_login(User.objects.get(username="bench-admin"))
    today = timezone.localdate()
    start, end = _window("month", today)
    shown = Occurrence.objects.filter(due_at__date__gte=start, due_at__date__lt=end).count()
    began = time.perf_counter()
    web.get(f"/admin/publisher/message/calendar/?view=month&date={today.isoformat()}")
    print(
        f"calendar of the current month (the history's last weeks: {shown:,} occurrences shown): "
        f"{(time.perf_counter() - began) * 1000:.0f} ms, once"
    )
    if not args.keep:
        database_clone("", history_db)


if __name__ == "__main__":
    main()
