from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation

from publisher.delivery import scheduling
from publisher.models import Delivery, DeliveryState, MessageKind, MessageState, Occurrence, Urgency
from publisher.workflow import catalogue, services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import ChannelFactory, SegmentFactory, UserFactory, make_message
from tests.fakes.dispatch_adapters import ADAPTERS, FakeAdapter
from tests.publisher.dispatch_support import approved_message, fake_channels

BRUSSELS = scheduling.BRUSSELS


@pytest.fixture
def live_db(transactional_db):
    """Committed rows (on_commit hooks run); reference data is restored by tests/conftest.py."""


# --- local time parsing ---------------------------------------------------------------------


def test_spring_forward_gap_is_refused_with_a_translated_error():
    with pytest.raises(ValidationError) as exc:
        scheduling.parse_local_time("2027-03-28 02:30")
    assert exc.value.code == "dst_gap"
    with translation.override("fr"), pytest.raises(ValidationError) as exc_fr:
        scheduling.parse_local_time("2027-03-28 02:30")
    assert "n’existe pas" in exc_fr.value.messages[0] or "n'existe pas" in exc_fr.value.messages[0]


def test_fall_back_overlap_needs_a_choice():
    with pytest.raises(ValidationError) as exc:
        scheduling.parse_local_time("2027-10-31 02:30")
    assert exc.value.code == "dst_ambiguous"
    summer = scheduling.parse_local_time("2027-10-31 02:30", fold=0)
    winter = scheduling.parse_local_time("2027-10-31 02:30", fold=1)
    assert summer == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert winter == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    # An explicit offset is a choice too.
    assert scheduling.parse_local_time("2027-10-31T02:30+01:00") == winter


def test_ordinary_local_times_are_stored_in_utc():
    assert scheduling.parse_local_time("2027-01-15 09:00") == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert scheduling.parse_local_time(datetime(2027, 7, 15, 9, 0)) == datetime(2027, 7, 15, 7, 0, tzinfo=UTC)
    with pytest.raises(ValidationError):
        scheduling.parse_local_time("next tuesday")


# --- recurrence -----------------------------------------------------------------------------------


def test_weekly_nine_oclock_stays_nine_oclock_across_both_2027_switches():
    start = scheduling.parse_local_time("2027-03-15 09:00")
    times = scheduling.recurrence_times("FREQ=WEEKLY;BYDAY=MO", start, before=datetime(2027, 11, 10, tzinfo=UTC))
    local = [t.astimezone(BRUSSELS) for t in times]
    assert {(t.hour, t.minute) for t in local} == {(9, 0)}
    assert all(t.weekday() == 0 for t in local)
    by_day = {t.date().isoformat(): t.utcoffset() for t in local}
    assert by_day["2027-03-22"] == timedelta(hours=1)  # before spring forward (28 March)
    assert by_day["2027-03-29"] == timedelta(hours=2)
    assert by_day["2027-10-25"] == timedelta(hours=2)  # before fall back (31 October)
    assert by_day["2027-11-01"] == timedelta(hours=1)
    assert times[0].tzinfo == UTC
    assert times[0] == datetime(2027, 3, 15, 8, 0, tzinfo=UTC)
    assert datetime(2027, 3, 29, 7, 0, tzinfo=UTC) in times


def test_count_until_and_excluded_dates():
    start = scheduling.parse_local_time("2027-03-01 09:00")
    rule = "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4\nEXDATE:20270308T090000"
    times = [t.astimezone(BRUSSELS).date().isoformat() for t in scheduling.recurrence_times(rule, start)]
    assert times == ["2027-03-01", "2027-03-15", "2027-03-22"]
    until = scheduling.recurrence_times("FREQ=DAILY;UNTIL=20270303T235959", start)
    assert len(until) == 3


@pytest.mark.parametrize(
    "exdate",
    [
        "EXDATE:20270308T090000",  # Brussels wall time
        "EXDATE:20270308T080000Z",  # UTC, as calendar clients write it (09:00 CET)
        "EXDATE;TZID=Europe/Brussels:20270308T090000",
        "EXDATE;TZID=Europe/London:20270308T080000",
    ],
)
def test_excluded_dates_in_any_zone_exclude_the_right_instance(exdate):
    start = scheduling.parse_local_time("2027-03-01 09:00")
    rule = f"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\n{exdate}"
    times = [t.astimezone(BRUSSELS).date().isoformat() for t in scheduling.recurrence_times(rule, start)]
    assert times == ["2027-03-01", "2027-03-15"]


def test_an_unknown_time_zone_in_an_excluded_date_is_a_clear_error():
    start = scheduling.parse_local_time("2027-03-01 09:00")
    with pytest.raises(ValidationError) as exc:
        scheduling.recurrence_times("RRULE:FREQ=DAILY\nEXDATE;TZID=Mars/Olympus:20270308T090000", start)
    assert exc.value.code == "invalid_rrule"


def test_preview_lists_the_next_occurrences_after_now():
    start = scheduling.parse_local_time("2027-03-01 09:00")
    with time_machine.travel(datetime(2027, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        preview = scheduling.occurrences_preview(recurrence="FREQ=WEEKLY;BYDAY=MO", recurrence_start=start, count=3)
    assert [t.astimezone(BRUSSELS).date().isoformat() for t in preview] == ["2027-03-15", "2027-03-22", "2027-03-29"]
    one = datetime(2027, 4, 1, 7, 0, tzinfo=UTC)
    assert scheduling.occurrences_preview(publish_at=one) == [one]


@time_machine.travel(datetime(2027, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_validate_schedule_refuses_past_times_unless_urgent_and_bad_rules():
    past = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)
    with pytest.raises(ValidationError) as exc:
        scheduling.validate_schedule(publish_at=past)
    assert "publish_at" in exc.value.message_dict
    scheduling.validate_schedule(publish_at=past, urgency=Urgency.URGENT)
    with pytest.raises(ValidationError) as exc:
        scheduling.validate_schedule(recurrence="FREQ=SOMETIMES", recurrence_start=past)
    assert "recurrence" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        scheduling.validate_schedule(recurrence="FREQ=DAILY;COUNT=2", recurrence_start=past - timedelta(days=10))
    assert "recurrence" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        scheduling.validate_schedule(recurrence="FREQ=DAILY", recurrence_start=None)
    assert "recurrence_start" in exc.value.message_dict
    scheduling.validate_schedule(recurrence="FREQ=DAILY", recurrence_start=past)


# --- message_schedule --------------------------------------------------------------------------


@pytest.mark.django_db
@time_machine.travel(datetime(2027, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_recurring_message_gets_occurrences_up_to_the_horizon(author, approver):
    ChannelFactory(language="fr", covers_all=True)
    ChannelFactory(language="nl", covers_all=True)
    start = scheduling.parse_local_time("2027-03-15 09:00")
    message = approved_message(
        author=author, approver=approver, recurrence="FREQ=WEEKLY;BYDAY=MO", recurrence_start=start
    )
    assert message.state == MessageState.SCHEDULED
    due = list(Occurrence.objects.filter(message=message).values_list("due_at", flat=True))
    assert len(due) == 5  # 35 days ahead: 15, 22, 29 March, 5 and 12 April
    assert {d.astimezone(BRUSSELS).hour for d in due} == {9}
    assert Delivery.objects.filter(occurrence__message=message).count() == 10
    with time_machine.travel(datetime(2027, 4, 10, 12, 0, tzinfo=UTC), tick=False):
        added = scheduling.recurrences_extend()
    assert added == 8  # 19 April .. 10 May, two channels each
    assert scheduling.recurrences_extend(now=datetime(2027, 4, 10, 12, 0, tzinfo=UTC)) == 0


@pytest.mark.django_db
@time_machine.travel(datetime(2027, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_a_routine_time_long_past_is_refused_at_approval(author, approver):
    ChannelFactory(language="fr", covers_all=True)
    with pytest.raises(ValidationError) as exc:
        approved_message(author=author, approver=approver, publish_at=datetime(2027, 3, 10, 9, 0, tzinfo=UTC))
    assert "publish_at" in exc.value.message_dict
    assert not Delivery.objects.exists()


@override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS)
def test_urgent_message_is_handed_to_the_queue_when_its_transaction_commits(live_db, author, approver):
    FakeAdapter.reset()
    fake_channels()
    future = datetime.now(UTC) + timedelta(days=1)
    message = approved_message(author=author, approver=approver, urgency=Urgency.URGENT, publish_at=future)
    # Urgent means now: the deliveries were due at approval and ran (sync cluster in tests).
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}
    assert all(d.urgent and d.due_at < future for d in Delivery.objects.all())
    assert len(FakeAdapter.posts) == 2
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED


@override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS)
def test_follow_up_replies_only_on_channels_that_carried_the_original(live_db, author, approver):
    FakeAdapter.reset()
    fr, nl = fake_channels()
    original = approved_message(author=author, approver=approver, urgency=Urgency.URGENT)
    # A channel added afterwards did not carry the original: the all-clear skips it.
    ChannelFactory(language="fr", covers_all=True, kind="fake")
    follow_up = make_message(author=author, variants={"fr": "Fin d'alerte", "nl": "Einde alarm"})
    follow_up.follows = original
    follow_up.kind = MessageKind.CANCEL
    follow_up.urgency = Urgency.URGENT
    follow_up.save()
    follow_up.content_hash = services.message_content_hash(follow_up)
    follow_up.save()
    services.message_submit(message=follow_up, actor=author)
    services.message_approve(message=follow_up, actor=approver, checklist=checklist_all_ticked())
    replies = Delivery.objects.filter(occurrence__message=follow_up).select_related("reply_to")
    assert {d.channel_id for d in replies} == {fr.pk, nl.pk}
    for reply in replies:
        assert reply.reply_to.occurrence.message_id == original.pk
        assert reply.reply_to.channel_id == reply.channel_id
        assert reply.state == DeliveryState.SENT
    replied = [c["post"].reply_to.remote_id for c in FakeAdapter.calls if c["post"].reply_to]
    assert sorted(replied) == sorted(d.reply_to.remote_id for d in replies)


@pytest.mark.django_db
def test_approving_again_after_an_edit_revives_the_cancelled_deliveries(author, approver):
    ChannelFactory(language="fr", covers_all=True)
    ChannelFactory(language="nl", covers_all=True)
    publish_at = datetime.now(UTC) + timedelta(days=2)
    message = approved_message(author=author, approver=approver, publish_at=publish_at)
    message = services.message_update(
        message=message,
        actor=author,
        variants={"fr": services.VariantInput("Changé"), "nl": services.VariantInput("Gewijzigd")},
    )
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.CANCELLED}
    services.message_submit(message=message, actor=author)
    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    deliveries = Delivery.objects.filter(occurrence__message=message)
    assert deliveries.count() == 2
    assert set(deliveries.values_list("state", flat=True)) == {DeliveryState.PENDING}
    assert {d.next_attempt_at for d in deliveries} == {publish_at}


def test_daily_instance_in_the_spring_gap_moves_forward_by_the_gap():
    start = scheduling.parse_local_time("2027-03-27 02:30")
    first, gap_day, after = scheduling.recurrence_times("FREQ=DAILY;COUNT=3", start)
    assert first.astimezone(BRUSSELS).strftime("%H:%M") == "02:30"
    assert gap_day.astimezone(BRUSSELS).strftime("%d %H:%M") == "28 03:30"
    assert after.astimezone(BRUSSELS).strftime("%d %H:%M") == "29 02:30"


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["service", "direct"])
def test_a_weekly_message_going_out_keeps_its_approved_audience_when_its_segment_grows(author, approver, how):
    """Extended 40 days after the segment gained Ixelles, the recurrence still goes to Brussels only."""
    bxl = [ChannelFactory(language=lang, coverage=["21004"]) for lang in ("fr", "nl")]
    ixl = [ChannelFactory(language=lang, coverage=["21009"]) for lang in ("fr", "nl")]
    segment = SegmentFactory(nis=["21004"])
    t0 = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        message = make_message(author=author, municipalities=[], segments=[segment.pk])
        services.message_update(
            message=message,
            actor=author,
            schedule=services.Schedule(
                recurrence="FREQ=WEEKLY;BYDAY=MO", recurrence_start=scheduling.parse_local_time("2027-03-15 09:00")
            ),
        )
        services.message_submit(message=message, actor=author)
        services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    # The first Monday went out: the message is published and its recurrence goes on.
    with time_machine.travel(datetime(2027, 3, 16, 12, 0, tzinfo=UTC), tick=False):
        first = Delivery.objects.filter(occurrence__message=message).order_by("due_at")[:2]
        Delivery.objects.filter(pk__in=[d.pk for d in first]).update(state=DeliveryState.SENT)
        type(message).objects.filter(pk=message.pk).update(state=MessageState.PUBLISHED)
        if how == "service":
            catalogue.segment_update(
                segment=segment,
                actor=UserFactory(username="segment-admin", roles=["author"]),
                name_fr=segment.name_fr,
                name_nl=segment.name_nl,
                municipalities=["21004", "21009"],
            )
        else:
            segment.municipalities.add("21009")
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED
    assert message.approved_audience == ["21004"]
    with time_machine.travel(t0 + timedelta(days=40), tick=False):
        added = scheduling.recurrences_extend()
    assert added == 10  # 26 April .. 24 May, Brussels's two accounts each
    assert not Delivery.objects.filter(channel__in=ixl).exists()
    assert set(Delivery.objects.values_list("channel_id", flat=True)) == {c.pk for c in bxl}


@pytest.mark.parametrize("rule", ["FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31"])
def test_a_rule_that_never_happens_is_refused_before_dateutil_searches_to_9999(rule):
    # dateutil walked hour by hour to the year 9999 (5 to 10 s of CPU) before finding nothing.
    start = datetime(2030, 1, 1, 8, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        scheduling.recurrence_times(rule, start, limit=1)
    assert caught.value.code == "never"


def test_a_rule_on_the_29th_of_february_still_happens():
    start = datetime(2030, 1, 1, 8, tzinfo=UTC)
    assert scheduling.recurrence_times("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", start, limit=1)[0].year == 2032


def test_an_exdate_at_the_edge_of_the_calendar_is_an_invalid_rule_not_an_overflow():
    start = datetime(2030, 1, 1, 8, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        scheduling.recurrence_times("FREQ=DAILY\nEXDATE:99991231T235959Z", start, limit=1)
    assert caught.value.code == "invalid_rrule"


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00", "2030-01-01T09:00+99:00"]
)
def test_parse_local_time_refuses_extreme_values_without_overflowing(value):
    with pytest.raises(ValidationError):
        scheduling.parse_local_time(value)
