import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from publisher import models


def test_every_publisher_model_is_registered_with_lists_and_search():
    for model in [
        models.Municipality,
        models.PoliceZone,
        models.Province,
        models.Segment,
        models.Channel,
        models.Message,
        models.Variant,
        models.Attachment,
        models.Occurrence,
        models.Delivery,
        models.DeliveryAttempt,
        models.AuditEvent,
    ]:
        model_admin = admin.site._registry[model]
        assert model_admin.list_display != ("__str__",), model


@pytest.mark.parametrize(
    ("term", "expected"),
    [("Elsene", "21009"), ("ixelles", "21009"), ("1050", "21009"), ("21009", "21009"), ("Sint-Gillis", "21013")],
)
def test_audience_picker_searches_names_in_both_languages_nis_and_postal_codes(author_client, term, expected):
    response = author_client.get(
        reverse("admin:autocomplete"),
        {"term": term, "app_label": "publisher", "model_name": "message", "field_name": "audience_municipalities"},
    )
    assert response.status_code == 200
    assert expected in [row["id"] for row in response.json()["results"]]


def test_changelists_render(author_client, author, channels):
    from tests.factories import make_message

    make_message(author=author)
    for name in ["message", "variant", "attachment", "occurrence", "delivery", "auditevent", "municipality"]:
        response = author_client.get(reverse(f"admin:publisher_{name}_changelist"))
        assert response.status_code in (200, 403), name
    assert author_client.get(reverse("admin:publisher_message_changelist")).status_code == 200


def test_message_list_links_to_the_workflow_pages(author_client, approver):
    html = author_client.get(reverse("admin:publisher_message_changelist")).content.decode()
    for name in ["expired", "calendar"]:
        assert reverse(f"admin:publisher_message_{name}") in html
    # The approval queue is only offered to those who may approve.
    assert reverse("admin:publisher_message_approvals") not in html
    approver_client = Client()
    approver_client.force_login(approver)
    html = approver_client.get(reverse("admin:publisher_message_changelist")).content.decode()
    assert reverse("admin:publisher_message_approvals") in html
