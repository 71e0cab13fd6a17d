"""The guard on whole messages: submit and approval blocked, deliberate exceptions confirmed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.language.problems import message_language_findings
from publisher.models import AuditEvent, LanguageConfirmation, MessageState
from publisher.workflow import services
from publisher.workflow.language_confirmations import (
    attachment_language_confirm,
    language_confirm,
    variant_language_confirm,
)
from tests.factories import UserFactory, make_message
from tests.fakes.fixtures import make_photo
from tests.publisher.language.corpus import FR, NL

pytestmark = pytest.mark.django_db

SWAPPED = {"fr": NL[0], "nl": FR[0]}
RIGHT = {"fr": FR[0], "nl": NL[0]}
QUOTE = "Comme le dit la campagne flamande : « Wie rijdt, drinkt niet en blijft veilig op de weg »."


def codes(exc: ValidationError) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in exc.error_dict.items()}


def test_swapped_variants_cannot_be_submitted_each_error_under_its_field(author):
    message = make_message(author=author, variants=SWAPPED)
    with pytest.raises(ValidationError) as exc:
        services.message_submit(message=message, actor=author)
    assert codes(exc.value) == {"variants.fr": ["wrong_language"], "variants.nl": ["wrong_language"]}
    assert exc.value.message_dict["variants.fr"] == ["The French text looks Dutch (confidence 0.99)."]
    message.refresh_from_db()
    assert message.state == MessageState.DRAFT


def test_right_variants_are_submitted(author):
    message = make_message(author=author, variants=RIGHT)
    assert services.message_submit(message=message, actor=author).state == MessageState.SUBMITTED


def test_other_problems_stay_unkeyed_beside_the_language_ones(author):
    message = make_message(author=author, variants={"fr": NL[1]}, municipalities=["21004"])
    with pytest.raises(ValidationError) as exc:
        services.message_submit(message=message, actor=author)
    assert set(exc.value.message_dict) == {"__all__", "variants.fr"}
    assert "Missing variant: Dutch" in exc.value.message_dict["__all__"][0]
    problems = services.message_problems(message)
    assert problems[-1] == "The French text looks Dutch (confidence 0.99)."


def test_warnings_do_not_block(author):
    text = f"{FR[2]} Wees voorzichtig met onbekende bellers die om je bankgegevens vragen."
    message = make_message(author=author, variants={"fr": text, "nl": NL[2]})
    assert [f.finding.code for f in message_language_findings(message)] == ["mixed_language"]
    assert services.message_problems(message) == []


def test_a_confirmed_exception_lets_the_message_through_and_is_audited(author):
    message = make_message(author=author, variants={"fr": FR[0], "nl": NL[1] + " " + NL[2]})
    message.variants.filter(language="fr").update(text=QUOTE.replace("Comme le dit la campagne flamande : ", ""))
    with pytest.raises(ValidationError):
        services.message_submit(message=message, actor=author)

    confirmation = variant_language_confirm(
        message=message, language="fr", reason="  Slogan of the campaign  ", actor=author
    )

    assert confirmation.field == "variants.fr"
    assert confirmation.reason == "Slogan of the campaign"
    assert confirmation.confirmed_by == author
    event = AuditEvent.objects.get(verb="message.language_confirmed", object_id=str(message.pk))
    assert event.summary["field"] == "variants.fr"
    assert event.summary["reason"] == "Slogan of the campaign"
    assert event.summary["codes"] == ["wrong_language"]
    assert event.summary["text_hash"] == confirmation.text_hash
    (item,) = message_language_findings(message)
    assert item.confirmation == confirmation
    assert not item.blocking
    assert services.message_submit(message=message, actor=author).state == MessageState.SUBMITTED


def test_editing_the_text_asks_again(author):
    message = make_message(author=author, variants=SWAPPED)
    variant_language_confirm(message=message, language="fr", reason="Quote", actor=author)
    variant_language_confirm(message=message, language="nl", reason="Quote", actor=author)
    services.message_update(
        message=message, actor=author, variants={"fr": services.VariantInput(NL[3]), "nl": services.VariantInput(FR[0])}
    )
    with pytest.raises(ValidationError) as exc:
        services.message_submit(message=message, actor=author)
    assert codes(exc.value) == {"variants.fr": ["wrong_language"]}


def test_the_confirmer_joins_the_editors_so_cannot_approve(author, approver):
    colleague = UserFactory(username="colleague", roles=["author", "approver"])
    message = make_message(author=author, variants=SWAPPED)
    variant_language_confirm(message=message, language="fr", reason="Quote", actor=colleague)
    variant_language_confirm(message=message, language="nl", reason="Quote", actor=author)
    services.message_submit(message=message, actor=author)
    assert colleague.pk in services.message_editor_ids(message)
    with pytest.raises(NotAllowed):
        services.message_approve(message=message, actor=colleague, checklist={})


def test_approval_is_refused_when_a_wrong_language_no_longer_has_its_confirmation(author, approver):
    message = make_message(author=author, variants=SWAPPED)
    variant_language_confirm(message=message, language="fr", reason="Quote", actor=author)
    variant_language_confirm(message=message, language="nl", reason="Quote", actor=author)
    services.message_submit(message=message, actor=author)
    LanguageConfirmation.objects.filter(field="variants.nl").delete()
    with pytest.raises(ValidationError) as exc:
        services.message_approve(message=message, actor=approver, checklist={})
    assert codes(exc.value) == {"variants.nl": ["wrong_language"]}
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED


@pytest.mark.parametrize(("reason", "field"), [("", "reason"), ("   ", "reason"), ("x" * 1001, "reason")])
def test_a_confirmation_needs_a_reason(author, reason, field):
    message = make_message(author=author, variants=SWAPPED)
    with pytest.raises(ValidationError) as exc:
        variant_language_confirm(message=message, language="fr", reason=reason, actor=author)
    assert list(exc.value.message_dict) == [field]
    assert not LanguageConfirmation.objects.exists()


def test_there_must_be_an_error_to_confirm(author):
    message = make_message(author=author, variants=RIGHT)
    with pytest.raises(ValidationError) as exc:
        variant_language_confirm(message=message, language="fr", reason="Quote", actor=author)
    assert exc.value.message_dict == {"variants.fr": ["There is no language error to confirm in this text."]}
    with pytest.raises(ValidationError) as exc:
        variant_language_confirm(message=message, language="de", reason="Quote", actor=author)
    assert list(exc.value.message_dict) == ["language"]
    with pytest.raises(ValidationError) as exc:
        variant_language_confirm(message=message, language="it", reason="Quote", actor=author)
    assert list(exc.value.message_dict) == ["language"]
    with pytest.raises(ValidationError):
        language_confirm(message=message, field="title", reason="Quote", actor=author)
    assert not AuditEvent.objects.filter(verb="message.language_confirmed").exists()


def test_confirming_twice_the_same_text_is_refused(author):
    message = make_message(author=author, variants=SWAPPED)
    variant_language_confirm(message=message, language="fr", reason="Quote", actor=author)
    with pytest.raises(ValidationError):
        variant_language_confirm(message=message, language="fr", reason="Again", actor=author)
    assert LanguageConfirmation.objects.count() == 1


def test_only_editors_confirm_and_only_before_submission(author, approver):
    message = make_message(author=author, variants={"fr": FR[0], "nl": NL[0]})
    reader = UserFactory(username="reader", roles=[])
    with pytest.raises(NotAllowed):
        variant_language_confirm(message=message, language="fr", reason="Quote", actor=reader)
    services.message_submit(message=message, actor=author)
    with pytest.raises(InvalidTransition):
        variant_language_confirm(message=message, language="fr", reason="Quote", actor=author)


def test_alt_texts_are_checked_per_language_and_confirmed_per_image(author, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from publisher.workflow.attachments import attachment_add

    message = make_message(author=author, variants=RIGHT)
    attachment = attachment_add(
        message=message,
        actor=author,
        file=SimpleUploadedFile("photo.jpg", make_photo(), content_type="image/jpeg"),
        alt_fr="Une voiture accidentée sur l'autoroute, entourée de pompiers et de policiers.",
        alt_nl="Une voiture accidentée sur l'autoroute, entourée de pompiers et de policiers.",
    )
    message.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.message_submit(message=message, actor=author)
    field = f"attachments.{attachment.pk}.alt_nl"
    assert codes(exc.value) == {field: ["wrong_language"]}
    assert exc.value.message_dict[field] == ["Image alt text: The Dutch text looks French (confidence 0.99)."]

    attachment_language_confirm(attachment=attachment, language="nl", reason="Same caption", actor=author)
    assert services.message_submit(message=message, actor=author).state == MessageState.SUBMITTED
