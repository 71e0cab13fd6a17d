import io

import pytest
import time_machine
from django.urls import reverse
from PIL import Image

from publisher.models import Attachment, AuditEvent, Message, MessageState, Variant
from tests.factories import make_message

ADD = reverse("admin:publisher_message_add")


def png(size=(64, 48)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    out.seek(0)
    out.name = "photo.png"
    return out


def compose_data(**overrides):
    data = {
        "title": "Vols de vélos",
        "urgency": "routine",
        "status": "actual",
        "text_fr": "Attention aux vols de vélos.",
        "link_fr": "",
        "text_nl": "Let op voor fietsdiefstallen.",
        "link_nl": "",
        "audience_municipalities": ["21004"],
        "first_time": "2026-12-01T09:00",
        "recurrence_preset": "",
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel("2026-11-27 12:00 +01:00", tick=False):
        yield


def test_compose_creates_message_through_services(author_client, author, channels):
    data = compose_data(image=png(), image_alt_fr="Un vélo", image_alt_nl="Een fiets")
    response = author_client.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    message = Message.objects.get()
    assert message.author == author
    assert message.state == MessageState.DRAFT
    assert {v.language: v.text for v in message.variants.all()} == {
        "fr": "Attention aux vols de vélos.",
        "nl": "Let op voor fietsdiefstallen.",
    }
    assert message.publish_at.isoformat() == "2026-12-01T08:00:00+00:00"
    attachment = Attachment.objects.get(message=message)
    assert (attachment.alt_fr, attachment.alt_nl) == ("Un vélo", "Een fiets")
    # The hash covers the image: the service computed it after the attachment was added.
    from publisher.workflow.services import message_content_hash

    assert message.content_hash == message_content_hash(message)
    assert AuditEvent.objects.filter(verb="message.created", object_id=str(message.pk)).exists()


def test_service_error_shows_at_the_field_and_nothing_is_saved(author_client, channels):
    response = author_client.post(ADD, compose_data(audience_municipalities=[]))
    assert response.status_code == 200
    form = response.context["form"]
    assert "audience_municipalities" in form.errors
    assert Message.objects.count() == 0


def test_refused_image_rolls_back_the_whole_save(author_client, channels):
    broken = io.BytesIO(b"not an image at all")
    broken.name = "x.png"
    response = author_client.post(ADD, compose_data(image=broken, image_alt_fr="x"))
    assert response.status_code == 200
    assert "image" in response.context["form"].errors
    assert Message.objects.count() == 0
    assert Variant.objects.count() == 0


def test_dst_gap_is_refused_at_the_time_field(author_client, channels):
    response = author_client.post(ADD, compose_data(first_time="2027-03-28T02:30"))
    assert "02:30" in " ".join(response.context["form"].errors["first_time"])


def test_dst_overlap_needs_an_explicit_offset(author_client, channels):
    response = author_client.post(ADD, compose_data(first_time="2027-10-31T02:30"))
    assert "first_time" in response.context["form"].errors
    response = author_client.post(ADD, compose_data(first_time="2027-10-31T02:30", time_offset="winter"))
    assert response.status_code == 302
    assert Message.objects.get().publish_at.isoformat() == "2027-10-31T01:30:00+00:00"


def test_weekly_preset_builds_the_rule_and_lists_occurrences(author_client, channels):
    response = author_client.post(
        ADD, compose_data(recurrence_preset="weekly", recurrence_days=["MO", "TH"], first_time="2026-11-30T09:00")
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.recurrence == "FREQ=WEEKLY;BYDAY=MO,TH"
    assert message.publish_at is None
    page = author_client.get(reverse("admin:publisher_message_change", args=[message.pk]))
    times = page.context["occurrences"]
    # 09:00 Brussels across the DST change of March stays 09:00 local.
    assert all(t.hour == 9 for t in times)
    assert len(times) == 10


def test_invalid_custom_rule_is_refused_at_its_field(author_client, channels):
    response = author_client.post(ADD, compose_data(recurrence_preset="custom", recurrence_custom="FREQ=SOMETIMES"))
    assert "recurrence_custom" in response.context["form"].errors


def test_image_without_alt_text_is_refused(author_client, channels):
    response = author_client.post(ADD, compose_data(image=png()))
    assert "image_alt_fr" in response.context["form"].errors


def test_problems_are_shown_and_block_submission(author_client, author, channels):
    message = make_message(author=author, variants={"fr": "Bonjour"}, municipalities=["21004"])
    page = author_client.get(reverse("admin:publisher_message_change", args=[message.pk]))
    assert page.context["problems"]
    assert b'id="submit-for-approval" disabled' in page.content
    response = author_client.post(reverse("admin:publisher_message_submit", args=[message.pk]), follow=True)
    message.refresh_from_db()
    assert message.state == MessageState.DRAFT
    assert any("Dutch" in str(m) or "néerlandais" in str(m).lower() for m in response.context["messages"])


def test_edit_after_approval_returns_to_draft_and_says_so(author_client, author, approver, channels):
    from publisher.workflow import services
    from publisher.workflow.checklist import checklist_all_ticked

    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    url = reverse("admin:publisher_message_change", args=[message.pk])
    response = author_client.post(url, compose_data(title="Test message", text_fr="Bonjour, modifié", text_nl="Hallo"))
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == MessageState.DRAFT
    page = author_client.get(url)
    assert [m.level_tag for m in page.context["messages"]] == ["warning"]


def test_approver_sees_a_read_only_page(approver_client, author, channels):
    message = make_message(author=author)
    url = reverse("admin:publisher_message_change", args=[message.pk])
    page = approver_client.get(url)
    assert page.context["form"] is None
    assert approver_client.post(url, compose_data()).status_code == 403


def test_audience_preview_lists_languages_and_routes(author_client, channels):
    url = reverse("admin:publisher_message_preview_audience")
    data = author_client.get(url, {"municipalities": ["21004"], "written": ["fr"]}).json()
    assert [lang["code"] for lang in data["required"]] == ["fr", "nl"]
    labels = {r["label"]: r["written"] for r in data["routes"]}
    assert labels["NL → PolitieBrussel (outbox)"] is False
    assert labels["FR → Police Bruxelles (outbox)"] is True
    flemish = author_client.get(url, {"municipalities": ["11002"]}).json()  # Antwerpen
    assert [lang["code"] for lang in flemish["required"]] == ["nl"]
    assert {r["channel"] for r in flemish["routes"]} == {"Federale politie"}


def test_schedule_preview_lists_next_times_in_brussels(author_client):
    url = reverse("admin:publisher_message_preview_schedule")
    data = author_client.get(url, {"first_time": "2026-12-01T09:00", "recurrence_preset": "daily"}).json()
    assert data["error"] == ""
    assert len(data["occurrences"]) == 10
    assert all("09:00" in text or "9:00" in text for text in data["occurrences"])


@pytest.mark.parametrize("value", ["0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00:00+14:00"])
def test_extreme_time_is_refused_at_the_time_field(author_client, channels, value):
    response = author_client.post(ADD, compose_data(first_time=value))
    assert response.status_code == 200
    assert "2000-01-01" in " ".join(response.context["form"].errors["first_time"])
    assert Message.objects.count() == 0


def test_schedule_preview_of_an_extreme_time_says_so(author_client):
    url = reverse("admin:publisher_message_preview_schedule")
    data = author_client.get(url, {"first_time": "9999-12-31T23:59", "recurrence_preset": "daily"}).json()
    assert data["field"] == "first_time"
    assert "2000-01-01" in data["error"]


def test_calendar_of_the_last_week_of_9999_shows_this_week(author_client):
    response = author_client.get(reverse("admin:publisher_message_calendar"), {"date": "9999-12-31"})
    assert response.status_code == 200


def test_a_title_with_a_carriage_return_is_a_field_error(author_client, channels):
    response = author_client.post(ADD, compose_data(title="Vols\rde vélos"))
    assert response.status_code == 200
    assert "title" in response.context["form"].errors
    assert not Message.objects.exists()
